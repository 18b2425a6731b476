"""Table definitions, creation (waiting until ACTIVE) and deletion."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from eventsourcing.persistence import OperationalError, ProgrammingError

from event_store.dynamodb.client import DynamoDBClient, endpoint_of
from event_store.dynamodb.errors import error_code, translated_errors

TABLE_ACTIVE_TIMEOUT_SECONDS = 300.0

_ensured: set[tuple[str, str]] = set()
_ensured_lock = threading.Lock()


def table_spec(
    table_name: str,
    hash_key: str,
    range_key: str | None = None,
    *,
    range_type: str = "S",
    indexes: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """CreateTable kwargs of an on-demand table keyed by ``hash_key`` (S) and ``range_key``
    (``range_type``), with global secondary indexes by name -> (hash, range) attribute (S),
    each projecting every attribute. Every table of the store and of the read models is
    defined here."""
    keys = [(hash_key, "HASH", "S")] + ([(range_key, "RANGE", range_type)] if range_key else [])
    defined = {name: kind for name, _, kind in keys}
    for pair in (indexes or {}).values():
        defined.update((name, "S") for name in pair if name not in defined)
    spec: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": [{"AttributeName": name, "KeyType": role} for name, role, _ in keys],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in defined.items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        spec["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": h, "KeyType": "HASH"},
                    {"AttributeName": r, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (h, r) in indexes.items()
        ]
    return spec


def events_table_spec(table_name: str) -> dict[str, Any]:
    """CreateTable kwargs of an events (or snapshots) table: ``pk`` (S) + ``sk`` (N)."""
    return table_spec(table_name, "pk", "sk", range_type="N")


def tracking_table_spec(table_name: str) -> dict[str, Any]:
    """CreateTable kwargs of a tracking table: ``pk`` (S) only, one item per upstream app."""
    return table_spec(table_name, "pk")


def _key_schema(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in spec["KeySchema"])


def _describe(client: DynamoDBClient, table_name: str) -> dict[str, Any] | None:
    try:
        response = client.describe_table(TableName=table_name)
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return None
        raise
    table: dict[str, Any] = response["Table"]
    return table


def _wait_active(client: DynamoDBClient, table_name: str, timeout: float) -> dict[str, Any]:
    """The table's description once it and every index of it are ACTIVE."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        table = _describe(client, table_name)
        indexes = (table or {}).get("GlobalSecondaryIndexes", [])
        if (
            table is not None
            and table.get("TableStatus") == "ACTIVE"
            and all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes)
        ):
            return table
        if time.monotonic() > deadline:
            msg = f"DynamoDB table {table_name} not ACTIVE after {timeout:.0f} s"
            raise OperationalError(msg)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def ensure_table(
    client: DynamoDBClient,
    spec: Mapping[str, Any],
    timeout: float = TABLE_ACTIVE_TIMEOUT_SECONDS,
) -> None:
    """Create the table described by CreateTable kwargs unless it exists; wait until ACTIVE.

    An existing table with a different key schema is a ProgrammingError.
    """
    table_name = str(spec["TableName"])
    cache_key = (endpoint_of(client), table_name)
    with _ensured_lock:
        if cache_key in _ensured:
            return
    with translated_errors():
        table = _describe(client, table_name)
        if table is None:
            try:
                client.create_table(**spec)
            except ClientError as e:
                if error_code(e) != "ResourceInUseException":  # created concurrently
                    raise
        table = _wait_active(client, table_name, timeout)
    existing = sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"])
    if existing != _key_schema(spec):
        msg = f"DynamoDB table {table_name} exists with key schema {existing}"
        raise ProgrammingError(msg)
    _add_missing_indexes(client, spec, table, timeout)
    with _ensured_lock:
        _ensured.add(cache_key)


def _add_missing_indexes(
    client: DynamoDBClient, spec: Mapping[str, Any], table: Mapping[str, Any], timeout: float
) -> None:
    """Give a table made before an index was added to its spec that index (UpdateTable, one
    index a call as DynamoDB requires), and wait until it is ACTIVE (backfilled). Another
    process adding it meanwhile is no error."""
    have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    for index in spec.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in have:
            continue
        with translated_errors():
            try:
                client.update_table(
                    TableName=spec["TableName"],
                    AttributeDefinitions=spec["AttributeDefinitions"],
                    GlobalSecondaryIndexUpdates=[{"Create": index}],
                )
            except ClientError as e:
                if "already exists" not in str(e) and error_code(e) != "ResourceInUseException":
                    raise
            _wait_active(client, str(spec["TableName"]), timeout)


def ensure_tables(client: DynamoDBClient, specs: Iterable[Mapping[str, Any]]) -> None:
    for spec in specs:
        ensure_table(client, spec)


def delete_table(client: DynamoDBClient, table_name: str, *, wait: bool = True) -> bool:
    """Delete a table if it exists; return whether it existed."""
    with _ensured_lock:
        _ensured.discard((endpoint_of(client), table_name))
    with translated_errors():
        try:
            client.delete_table(TableName=table_name)
        except ClientError as e:
            if error_code(e) == "ResourceNotFoundException":
                return False
            raise
        if wait:
            deadline = time.monotonic() + TABLE_ACTIVE_TIMEOUT_SECONDS
            delay = 0.05
            while _describe(client, table_name) is not None:
                if time.monotonic() > deadline:
                    msg = f"DynamoDB table {table_name} still exists"
                    raise OperationalError(msg)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
    return True
