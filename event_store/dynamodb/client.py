"""The boto3 DynamoDB client: construction, a typed view of it, and low-level item helpers."""

from __future__ import annotations

from typing import Any, Protocol

Item = dict[str, dict[str, Any]]
"""A DynamoDB item in boto3 *client* format, e.g. ``{"pk": {"S": "x"}, "sk": {"N": "1"}}``."""

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
MAX_POOL_CONNECTIONS = 32
BOTOCORE_MAX_ATTEMPTS = 4
BOTOCORE_MAX_BACKOFF_SECONDS = 20  # botocore's standard retry mode caps its backoff there
MAX_CALL_SECONDS = (
    BOTOCORE_MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS)
    + (BOTOCORE_MAX_ATTEMPTS - 1) * BOTOCORE_MAX_BACKOFF_SECONDS
)
"""The longest one client call can take, botocore's own attempts and backoffs included."""
TOKEN_WINDOW_SECONDS = 600
"""DynamoDB remembers a TransactWriteItems ClientRequestToken for 10 minutes."""


class DynamoDBClient(Protocol):
    """The subset of the boto3 DynamoDB client used here and offered to subclasses.

    Every method takes the boto3 keyword arguments and returns the parsed response.
    """

    @property
    def meta(self) -> Any: ...

    @property
    def exceptions(self) -> Any: ...

    def close(self) -> None: ...

    def get_paginator(self, operation_name: str) -> Any: ...

    def get_waiter(self, waiter_name: str) -> Any: ...

    def list_tables(self, **kwargs: Any) -> dict[str, Any]: ...

    def update_table(self, **kwargs: Any) -> dict[str, Any]: ...

    def update_time_to_live(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_time_to_live(self, **kwargs: Any) -> dict[str, Any]: ...

    def execute_statement(self, **kwargs: Any) -> dict[str, Any]: ...

    def create_table(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_table(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_table(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def put_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def query(self, **kwargs: Any) -> dict[str, Any]: ...

    def scan(self, **kwargs: Any) -> dict[str, Any]: ...

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def transact_get_items(self, **kwargs: Any) -> dict[str, Any]: ...

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]: ...


def create_client(endpoint_url: str | None, region: str) -> DynamoDBClient:
    """A new thread-safe low-level client with bounded timeouts and standard retries.

    botocore retries throttling and transient errors itself (standard mode); the recorders add
    their own bounded retries on top, for the errors it does not retry (e.g. cancelled
    transactions) and for those that outlast its attempts.
    """
    import boto3  # here, not at import: 0.7 s every process would pay, DynamoDB or not
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": BOTOCORE_MAX_ATTEMPTS},
        tcp_keepalive=True,
    )
    session = boto3.session.Session()
    client: DynamoDBClient = session.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region, config=config
    )
    return client


def endpoint_of(client: DynamoDBClient) -> str:
    """The URL the client talks to (identifies the database for process-local state)."""
    return str(client.meta.endpoint_url)


def s(value: str) -> dict[str, Any]:
    return {"S": value}


def n(value: int) -> dict[str, Any]:
    return {"N": str(value)}


def b(value: bytes) -> dict[str, Any]:
    return {"B": value}


def get_n(item: Item, name: str) -> int | None:
    """An integer attribute of an item, or None when it is absent."""
    value = item.get(name)
    return None if value is None else int(value["N"])
