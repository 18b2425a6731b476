"""Fixtures of the integration tests: the DynamoDB recorder tests' factory on fresh tables of
the session's DynamoDB Local, with short retry backoffs (the bounds are what those tests check,
not the waits); and the one moto server (server mode, in this process, on 127.0.0.1) that the
SES/SNS senders and the S3 blob store talk HTTP to."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from moto.server import ThreadedMotoServer

from event_store.dynamodb import DynamoDBApplicationRecorder, DynamoDBFactory

FAST_RETRIES = {
    "transient_base_delay": 0.001,
    "transient_max_delay": 0.01,
    "head_base_delay": 0.001,
    "head_max_delay": 0.01,
}


@pytest.fixture
def factory(dynamodb_endpoint: str, table_prefix: str) -> Iterator[DynamoDBFactory]:
    factory = DynamoDBFactory(
        {"DYNAMODB_ENDPOINT_URL": dynamodb_endpoint, "DYNAMODB_TABLE_PREFIX": table_prefix}
    )
    factory.datastore.retry_policy = replace(factory.datastore.retry_policy, **FAST_RETRIES)
    yield factory
    factory.delete_tables()
    factory.close()


@pytest.fixture
def recorder(factory: DynamoDBFactory) -> DynamoDBApplicationRecorder:
    recorder = factory.application_recorder()
    assert isinstance(recorder, DynamoDBApplicationRecorder)
    return recorder


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server mode for the session: boto3 clients reach it over HTTP at this URL (its
    backends live in this process, so a test may look at what a sender sent)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
