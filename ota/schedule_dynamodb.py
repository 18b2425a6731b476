"""The orchestrator's timers and job outbox on DynamoDB: tables `{prefix}ota_timers` and
`{prefix}ota_outbox` (created with the other tables, by `fleetwatch dynamodb create-tables`).

- `ota_timers`: keys `due_shard` (S, hash: the first hex digit of SHA-256 of tenant and key, 16
  shards) + `due_sk` (S, range: `"{due at}#{tenant_id}#{key}"`). `due(now)` is one consistent
  Query per shard (`due_sk <= "{now}#~"`), merged; nothing is scanned. A timer's item is a
  function of its key, so scheduling it again rewrites the same item (idempotent).
- `ota_outbox`: keys `tenant_id` (S, hash) + `notice_key` (S, range); a new notice is a
  conditional Put (`attribute_not_exists`), so a key already there (sent or not) stays as it
  is. The sparse GSI `pending` (`pending_shard` + `pending_sk` = `"{added at}#{tenant}#{key}"`)
  holds unsent notices only; `mark_sent` removes them from it. The index is eventually
  consistent, so `pending` re-reads its rows consistently and drops those already sent.

The schedule writer's `record` writes the rows first and then the checkpoint: a crash in
between replays idempotent writes.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.errors import translated_errors
from ota.schedule import JobNotice, Timer
from ota.schedule_rows import (
    OUTBOX_TABLE,
    TIMERS_TABLE,
    iso,
    notice_of,
    notice_record,
    timer_of,
    timer_record,
)

SHARDS = "0123456789abcdef"
PENDING_INDEX = "pending"
BATCH = 25  # BatchWriteItem's limit
GET_BATCH = 100  # BatchGetItem's limit of keys per call


def shard_of(tenant_id: str, key: str) -> str:
    return hashlib.sha256(f"{tenant_id}/{key}".encode()).hexdigest()[0]


def _spec(table: str, keys: tuple[str, str], *index: tuple[str, str, str]) -> dict[str, Any]:
    names = {*keys, *(a for _, *attrs in index for a in attrs)}
    spec: dict[str, Any] = {
        "TableName": table,
        "KeySchema": [
            {"AttributeName": keys[0], "KeyType": "HASH"},
            {"AttributeName": keys[1], "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(names)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if index:
        spec["GlobalSecondaryIndexes"] = [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
            for name, hash_key, range_key in index
        ]
    return spec


class DynamoDBSchedule(DynamoDBTrackingRecorder):
    """`TimerStore` and `JobOutbox` (ota.schedule) on DynamoDB. Build with
    `app.factory.tracking_recorder(DynamoDBSchedule)` (shares the client and the prefix)."""

    @property
    def timers_table(self) -> str:
        return f"{self.table_prefix}{TIMERS_TABLE}"

    @property
    def outbox_table(self) -> str:
        return f"{self.table_prefix}{OUTBOX_TABLE}"

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [
            *super().construct_extra_tables(),
            _spec(self.timers_table, ("due_shard", "due_sk")),
            _spec(
                self.outbox_table,
                ("tenant_id", "notice_key"),
                (PENDING_INDEX, "pending_shard", "pending_sk"),
            ),
        ]

    # TimerStore ----------------------------------------------------------------------------

    def schedule(self, timers: Sequence[Timer]) -> None:
        self._batch_write(
            self.timers_table, [{"PutRequest": {"Item": _timer_item(t)}} for t in timers]
        )

    def due(self, now: datetime, limit: int) -> list[Timer]:
        bound = f"{iso(now)}#~"  # '~' sorts after every character of a tenant id or key
        items: list[dict[str, Any]] = []
        for shard in SHARDS:
            items += self._query(
                TableName=self.timers_table,
                KeyConditionExpression="due_shard = :s AND due_sk <= :bound",
                ExpressionAttributeValues={":s": {"S": shard}, ":bound": {"S": bound}},
                ConsistentRead=True,
                limit=limit,
            )
        items.sort(key=lambda item: item["due_sk"]["S"])
        return [timer_of(_record(item)) for item in items[:limit]]

    def done(self, timers: Sequence[Timer]) -> None:
        deletes = [{"DeleteRequest": {"Key": _timer_key(t)}} for t in timers]
        self._batch_write(self.timers_table, deletes)

    # JobOutbox -----------------------------------------------------------------------------

    def add(self, notices: Sequence[JobNotice]) -> None:
        added_at = iso(datetime.now(UTC))
        for notice in notices:
            record = notice_record(notice)
            item = _item(record) | {
                "added_at": {"S": added_at},
                "pending_shard": {"S": shard_of(notice.tenant_id, notice.key)},
                "pending_sk": {"S": f"{added_at}#{notice.tenant_id}#{notice.key}"},
            }
            try:
                with translated_errors():
                    self.client.put_item(
                        TableName=self.outbox_table,
                        Item=item,
                        ConditionExpression="attribute_not_exists(notice_key)",
                    )
            except IntegrityError:  # the key is there already: left as it is
                pass

    def pending(self, limit: int) -> list[JobNotice]:
        keys: list[dict[str, Any]] = []
        for shard in SHARDS:
            keys += self._query(
                TableName=self.outbox_table,
                IndexName=PENDING_INDEX,
                KeyConditionExpression="pending_shard = :s",
                ExpressionAttributeValues={":s": {"S": shard}},
                limit=limit,
            )
        keys.sort(key=lambda item: item["pending_sk"]["S"])
        chosen = [
            {"tenant_id": k["tenant_id"], "notice_key": k["notice_key"]} for k in keys[:limit]
        ]
        items = {
            (item["tenant_id"]["S"], item["notice_key"]["S"]): item
            for start in range(0, len(chosen), GET_BATCH)
            for item in self._batch_get(self.outbox_table, chosen[start : start + GET_BATCH])
        }
        notices = []
        for key in chosen:  # the index may lag: keep the rows a consistent read finds unsent
            item = items.get((key["tenant_id"]["S"], key["notice_key"]["S"]))
            if item is not None and "pending_shard" in item:
                notices.append(notice_of(_record(item)))
        return notices

    def mark_sent(self, notices: Sequence[JobNotice]) -> None:
        sent_at = iso(datetime.now(UTC))
        for notice in notices:
            with contextlib.suppress(IntegrityError), translated_errors():  # absent: nothing
                self.client.update_item(
                    TableName=self.outbox_table,
                    Key={"tenant_id": {"S": notice.tenant_id}, "notice_key": {"S": notice.key}},
                    UpdateExpression="SET sent_at = :at REMOVE pending_shard, pending_sk",
                    ConditionExpression="attribute_exists(notice_key)",
                    ExpressionAttributeValues={":at": {"S": sent_at}},
                )

    # The schedule writer's batch -------------------------------------------------------------

    def record(
        self, timers: Sequence[Timer], notices: Sequence[JobNotice], tracking: Tracking
    ) -> None:
        """The rows (idempotent by key) first, then the checkpoint."""
        self.schedule(timers)
        self.add(notices)
        self.insert_tracking(tracking)

    def _query(self, *, limit: int, **request: Any) -> list[dict[str, Any]]:
        """Up to `limit` items of one Query, following its pages."""
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            with translated_errors():
                response = self.client.query(**request, Limit=limit - len(found))
            found += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def _batch_get(self, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items under `keys` (at most 100), strongly consistent, unprocessed keys retried."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}} if keys else {}
        while request:
            with translated_errors():
                response = self.client.batch_get_item(RequestItems=request)
            found += response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}
        return found

    def _batch_write(self, table: str, requests: list[dict[str, Any]]) -> None:
        for chunk in _chunks(_unique(requests), BATCH):
            pending: dict[str, Any] = {table: chunk}
            while pending:
                with translated_errors():
                    response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}


def _timer_key(timer: Timer) -> dict[str, Any]:
    due_sk = f"{iso(timer.due_at)}#{timer.tenant_id}#{timer.key}"
    return {"due_shard": {"S": shard_of(timer.tenant_id, timer.key)}, "due_sk": {"S": due_sk}}


def _timer_item(timer: Timer) -> dict[str, Any]:
    return _item(timer_record(timer)) | _timer_key(timer)


def _unique(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BatchWriteItem refuses two requests for one key: keep the first of each."""
    seen: set[str] = set()
    kept = []
    for request in requests:
        body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
        if body["due_sk"]["S"] not in seen:
            seen.add(body["due_sk"]["S"])
            kept.append(request)
    return kept


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _item(record: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
        for name, value in record.items()
    }


def _record(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value.get("S", value.get("N")) for name, value in item.items()}
