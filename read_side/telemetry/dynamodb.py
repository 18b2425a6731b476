"""The telemetry model on DynamoDB: the writer (the view) and the reader of its two tables,
side by side (tables, keys and item layout: `read_side.telemetry.dynamodb_items`).

The view applies a batch of `BatchRecorded` events:

1. raw items: one immutable Put per (device, hour, event); their key depends on the event
   only, so writing one twice changes nothing;
2. rollups: the touched items are read (BatchGetItem, consistent), each event's contribution
   is merged only if the event's stream version is above the item's guard `v`, and the item is
   Put back with the new `v`, on condition that it is still the version read (or absent);
3. the actions go out in transactions of at most 99 actions and ~3.5 MB, each with the
   tracking item: a check on all but the last, the checkpoint on the last
   (`write_parts_with_tracking`, see `event_store.dynamodb.parts`).

Before 1., the late entries (redeliveries past the stream's window, `read_side.telemetry.batch`)
whose message a raw item of an EARLIER event of the device already holds are dropped: one
consistent Query per (device, hour) they fall in, read before any action is built (like the
rollups' BatchGetItem). Only earlier versions count, so an event never finds its own items:
a replay after a partial commit, or a rebuild, drops the same entries and re-puts the same
items. The normal path (no late entry) reads nothing more.

A typical event (3 metrics x 3 resolutions, one hour) is one read and one 10-action
transaction. A bigger one (many metrics, entries spread over days) needs several
transactions: if the process dies between two, the replay re-reads the rollups, skips what
their guards say was absorbed, and re-puts identical raw items, so nothing is counted twice.

The reader reads with strongly consistent Queries (read-your-writes after waiting for the
projection): readings hour by hour over the raw items, buckets one Query on the rollup key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from read_side.dynamodb_tables import batch_get, delete_all_items
from read_side.paging import Page
from read_side.telemetry.batch import (
    DeviceBatch,
    MessageKey,
    RawEntry,
    RollupKey,
    Stats,
    without_repeats,
)
from read_side.telemetry.dynamodb_items import (
    HOUR,
    create_tables_kwargs,
    decode_raw,
    item_stats,
    raw_items,
    raw_pk,
    raw_table,
    rollup_pk,
    rollups_table,
    stats_attributes,
    stored_keys,
)
from read_side.telemetry.port import (
    HistoryQuery,
    TelemetryReader,
    TelemetryView,
    decode_reading_cursor,
    encode_bucket_cursor,
    readings_page,
)
from read_side.telemetry.row import (
    BUCKET_SECONDS,
    Bucket,
    RawReading,
    bucket_start,
    epoch_ms,
    from_epoch_ms,
)

MAX_ACTIONS = 99  # + the checkpoint: DynamoDB allows 100 actions per transaction
MAX_TRANSACTION_BYTES = 3_500_000  # DynamoDB allows 4 MB

ItemKey = tuple[str, int]  # rollup pk, sk


class DynamoDBTelemetryView(DynamoDBTrackingRecorder, TelemetryView):
    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), *create_tables_kwargs(self.table_prefix)]

    def apply(self, batches: Sequence[DeviceBatch], tracking: Tracking) -> Sequence[DeviceBatch]:
        batches = without_repeats(batches, self._stored)
        actions: list[tuple[dict[str, Any], int]] = []  # (action, estimated bytes)
        raw = raw_table(self.table_prefix)
        for batch in batches:
            rows = [(e.at_ms, e.message_id, dict(e.metrics)) for e in batch.entries if e.metrics]
            for item in raw_items(batch.tenant_id, batch.device_id, batch.version, rows):
                size = len(item["e"]["B"]) + 200
                actions.append(({"Put": {"TableName": raw, "Item": item}}, size))
        actions.extend((action, 300) for action in self._rollup_actions(batches))
        self._commit(actions, tracking)
        return batches

    def _rollup_actions(self, batches: Sequence[DeviceBatch]) -> list[dict[str, Any]]:
        contributions: dict[ItemKey, list[tuple[int, Stats]]] = {}
        for batch in batches:
            for rollup_key, stats in batch.rollups.items():
                item_key = _item_key(batch, rollup_key)
                contributions.setdefault(item_key, []).append((batch.version, stats))
        current = self._get_rollups(list(contributions))
        table = rollups_table(self.table_prefix)
        actions = []
        for key, parts in contributions.items():
            item = current.get(key)
            guard = int(item["v"]["N"]) if item else 0
            fresh = [(version, stats) for version, stats in parts if version > guard]
            if not fresh:
                continue  # absorbed before (a replay after a partial commit)
            merged = Stats(*item_stats(item)) if item else fresh[0][1]
            for _, stats in fresh if item else fresh[1:]:
                merged = merged.merge(stats)
            version = max(v for v, _ in fresh)
            put: dict[str, Any] = {
                "TableName": table,
                "Item": {
                    "pk": {"S": key[0]},
                    "sk": {"N": str(key[1])},
                    **stats_attributes(merged.min, merged.max, merged.sum, merged.count, version),
                },
            }
            if item is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "v = :v"
                put["ExpressionAttributeValues"] = {":v": {"N": str(guard)}}
            actions.append({"Put": put})
        return actions

    def _stored(self, batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
        """Which of the batch's late entries an earlier event of the device stored raw."""
        keys = [(e.at_ms, e.message_id) for e in entries]
        table = raw_table(self.table_prefix)
        return stored_keys(
            self.client, table, batch.tenant_id, batch.device_id, keys, below_version=batch.version
        )

    def _get_rollups(self, keys: list[ItemKey]) -> dict[ItemKey, dict[str, Any]]:
        table = rollups_table(self.table_prefix)
        wanted = [{"pk": {"S": pk}, "sk": {"N": str(sk)}} for pk, sk in keys]
        return {
            (item["pk"]["S"], int(item["sk"]["N"])): item
            for item in batch_get(self.client, table, wanted)
        }

    def _commit(self, actions: list[tuple[dict[str, Any], int]], tracking: Tracking) -> None:
        chunks: list[list[dict[str, Any]]] = [[]]
        size = 0
        for action, action_size in actions:
            if chunks[-1] and (
                len(chunks[-1]) >= MAX_ACTIONS or size + action_size > MAX_TRANSACTION_BYTES
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(action)
            size += action_size
        # Every chunk checks the tracking item, the last one records it; the rollups' own
        # guards (`v`) keep a second worker's interleaved chunks from counting twice.
        self.write_parts_with_tracking(tracking, chunks)

    def reset(self, application_name: str) -> None:
        for table in (raw_table(self.table_prefix), rollups_table(self.table_prefix)):
            delete_all_items(self.client, table, ("pk", "sk"))
        self.delete_tracking(application_name)


def _item_key(batch: DeviceBatch, key: RollupKey) -> ItemKey:
    return rollup_pk(batch.tenant_id, batch.device_id, key.metric, key.resolution), key.start_s


class DynamoDBTelemetryReader(TelemetryReader):
    """Strongly consistent Queries (read-your-writes after waiting for the projection)."""

    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.raw = raw_table(table_prefix)
        self.rollups = rollups_table(table_prefix)

    def readings(self, tenant_id: str, query: HistoryQuery) -> Page[RawReading]:
        device_id, metric, start, end = query.device_id, query.metric, query.start, query.end
        first, after = query.first, query.after
        low_key = decode_reading_cursor(after) if after else (epoch_ms(start) - 1, "")
        start_ms, end_ms = max(epoch_ms(start), low_key[0]), epoch_ms(end)
        if start_ms >= end_ms:
            return Page([], None)
        found: list[tuple[int, str, float]] = []
        hour_rows: set[tuple[int, str, float]] = set()
        current_hour: int | None = None
        for item in self._query(
            TableName=self.raw,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": raw_pk(tenant_id, device_id)},
                ":lo": {"S": f"{bucket_start(start_ms, HOUR):011d}#"},
                ":hi": {"S": f"{bucket_start(end_ms - 1, HOUR):011d}#~"},
            },
        ):
            hour = int(item["sk"]["S"].split("#", 1)[0])
            if hour != current_hour:
                found.extend(sorted(hour_rows))  # the previous hour is complete
                hour_rows.clear()
                current_hour = hour
                if len(found) > first:
                    break
            for at_ms, message_id, metrics in decode_raw(item["e"]["B"]):
                value = metrics.get(metric)
                if (
                    value is not None
                    and start_ms <= at_ms < end_ms
                    and (at_ms, message_id) > low_key
                ):
                    hour_rows.add((at_ms, message_id, float(value)))
        else:
            found.extend(sorted(hour_rows))
        found = _unique(found)
        return readings_page(found, first)

    def buckets(self, tenant_id: str, query: HistoryQuery) -> Page[Bucket]:
        device_id, metric, resolution = query.device_id, query.metric, query.resolution
        first = query.first
        low, high = query.bucket_bounds()
        if low >= high:
            return Page([], None)
        seconds = BUCKET_SECONDS[resolution]
        rows: list[Bucket] = []
        for item in self._query(
            TableName=self.rollups,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": rollup_pk(tenant_id, device_id, metric, resolution)},
                ":lo": {"N": str(low)},
                ":hi": {"N": str(high - 1)},
            },
            Limit=first + 1,
        ):
            mn, mx, sm, ct = item_stats(item)
            rows.append(Bucket(from_epoch_ms(int(item["sk"]["N"]) * 1000), seconds, mn, mx, sm, ct))
            if len(rows) > first:
                break
        more = len(rows) > first
        cursor = encode_bucket_cursor(epoch_ms(rows[first - 1].start) // 1000) if more else None
        return Page(rows[:first], cursor)

    def stored_messages(
        self, tenant_id: str, device_id: UUID, messages: Sequence[tuple[datetime, str, str]]
    ) -> set[str]:
        """`RawHistory` of the ingestion handler: the ids of `messages` already stored."""
        keys = [(epoch_ms(at), message_id) for at, message_id, _ in messages]
        found = stored_keys(self.client, self.raw, tenant_id, device_id, keys)
        return {message_id for _, message_id in found}

    def stored_before(self, batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
        keys = [(e.at_ms, e.message_id) for e in entries]
        return stored_keys(
            self.client, self.raw, batch.tenant_id, batch.device_id, keys,
            below_version=batch.version,
        )  # fmt: skip

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["ConsistentRead"] = True
        while True:
            response = self.client.query(**kwargs)
            yield from response.get("Items", [])
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key


def _unique(rows: list[tuple[int, str, float]]) -> list[tuple[int, str, float]]:
    """Drop a message stored twice (same time and id; sorted input)."""
    result: list[tuple[int, str, float]] = []
    for row in rows:
        if not result or result[-1][:2] != row[:2]:
            result.append(row)
    return result
