"""Helpers shared by the DynamoDB views and readers of the read-model packages (`device_status`,
`alerts`, `telemetry`, `users`), each of which writes its own tables."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

BATCH = 25  # BatchWriteItem's limit
GET_BATCH = 100  # BatchGetItem's limit of keys per call


def get_one(client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item of `table` under `key` (low-level key attributes), strongly consistent."""
    item: dict[str, Any] | None = client.get_item(
        TableName=table, Key=key, ConsistentRead=True
    ).get("Item")
    return item


def batch_get(client: Any, table: str, keys: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The items of `table` under `keys` (low-level key attributes; absent ones are skipped),
    by BatchGetItem of at most 100 keys a call, strongly consistent, unprocessed keys retried."""
    for start in range(0, len(keys), GET_BATCH):
        chunk = list(keys[start : start + GET_BATCH])
        request: dict[str, Any] = {table: {"Keys": chunk, "ConsistentRead": True}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield from response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}


def delete_all_items(client: Any, table: str, key_names: Sequence[str]) -> int:
    """Delete every item of `table` (a view's rows, for a rebuild); returns how many. Keys are
    read with a consistent scan, deleted 25 at a time; unprocessed deletes are retried with a
    short backoff (throttling)."""
    paginator = client.get_paginator("scan")
    keys = [
        {name: item[name] for name in key_names}
        for page in paginator.paginate(
            TableName=table,
            ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
            ExpressionAttributeNames={f"#k{i}": name for i, name in enumerate(key_names)},
            ConsistentRead=True,
        )
        for item in page.get("Items", [])
    ]
    for start in range(0, len(keys), BATCH):
        pending: dict[str, Any] = {
            table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH]]
        }
        delay = 0.05
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
    return len(keys)
