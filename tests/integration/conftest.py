"""Fixtures of the DynamoDB recorder tests: a factory on fresh tables of the session's DynamoDB
Local, with short retry backoffs (the bounds are what those tests check, not the waits)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

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
