"""`StateSnapshots` (event_store.state_snapshots) on DynamoDB: table `{prefix}state_snapshots`,
keys `name` (S, hash) + `part` (S, range), created with the other tables.

A snapshot may exceed an item's 400 KB, so it is written in parts of at most 350,000 bytes
under a new generation (`part` = `"{generation}#{index:06d}"`, BatchWriteItem), then made
current by the `head` item (`part` = `"head"`: position, generation, parts, SHA-256), then the
previous generation's parts are deleted. A reader reads the head, then its generation's parts
(one consistent Query) and checks the digest; a crash before the head leaves the old snapshot
current (the orphan parts are deleted by the next save), and a reader that raced a save (its
parts already deleted, or not all there) reads again.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from event_store.dynamodb.client import get_n, n
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.tracking_recorder import DynamoDBTrackingRecorder
from event_store.state_snapshots import TABLE, StateSnapshot

PART_BYTES = 350_000
BATCH = 25  # BatchWriteItem's limit
HEAD = "head"
READ_ATTEMPTS = 5


class DynamoDBStateSnapshots(DynamoDBTrackingRecorder):
    """Build with `app.factory.tracking_recorder(DynamoDBStateSnapshots)` (shares the client and
    the prefix)."""

    @property
    def snapshots_table(self) -> str:
        return f"{self.table_prefix}{TABLE}"

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [
            *super().construct_extra_tables(),
            {
                "TableName": self.snapshots_table,
                "KeySchema": [
                    {"AttributeName": "name", "KeyType": "HASH"},
                    {"AttributeName": "part", "KeyType": "RANGE"},
                ],
                "AttributeDefinitions": [
                    {"AttributeName": "name", "AttributeType": "S"},
                    {"AttributeName": "part", "AttributeType": "S"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
            },
        ]

    def save(self, name: str, position: int, data: bytes) -> None:
        generation = uuid.uuid4().hex
        parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
        keys = [self._key(name, f"{generation}#{i:06d}") for i in range(len(parts))]
        self._write(
            [
                {"PutRequest": {"Item": key | {"data": {"B": part}}}}
                for key, part in zip(keys, parts, strict=True)
            ]
        )
        head = {
            "position": n(position), "generation": {"S": generation}, "parts": n(len(parts)),
            "sha256": {"S": hashlib.sha256(data).hexdigest()},
        }  # fmt: skip
        with translated_errors():
            self.client.put_item(TableName=self.snapshots_table, Item=self._key(name, HEAD) | head)
        stale = [
            {"DeleteRequest": {"Key": self._key(name, item["part"]["S"])}}
            for item in self._parts(name, "")
            if not item["part"]["S"].startswith(generation)
        ]
        self._write(stale)

    def latest(self, name: str) -> StateSnapshot | None:
        for _ in range(READ_ATTEMPTS):
            with translated_errors():
                response = self.client.get_item(
                    TableName=self.snapshots_table, Key=self._key(name, HEAD), ConsistentRead=True
                )
            head = response.get("Item")
            if head is None:
                return None
            parts = self._parts(name, head["generation"]["S"] + "#")
            data = b"".join(bytes(item["data"]["B"]) for item in parts)
            if len(parts) == get_n(head, "parts") and (
                hashlib.sha256(data).hexdigest() == head["sha256"]["S"]
            ):
                return StateSnapshot(name, get_n(head, "position") or 0, data)
        return None  # replaced again and again while reading: as if there were none

    def _key(self, name: str, part: str) -> dict[str, Any]:
        return {"name": {"S": name}, "part": {"S": part}}

    def _parts(self, name: str, prefix: str) -> list[dict[str, Any]]:
        """The part items of `name` whose key starts with `prefix` (all parts: ""), in order."""
        values: dict[str, Any] = {":n": {"S": name}}
        condition = "#n = :n"
        if prefix:
            condition, values[":p"] = f"{condition} AND begins_with(part, :p)", {"S": prefix}
        request: dict[str, Any] = {
            "TableName": self.snapshots_table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#n": "name"},
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            with translated_errors():
                response = self.client.query(**request)
            found += [i for i in response.get("Items", []) if i["part"]["S"] != HEAD]
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH):
            pending: dict[str, Any] = {self.snapshots_table: requests[start : start + BATCH]}
            while pending:
                with translated_errors():
                    response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
