"""DynamoDB view of telemetry (keys and item layout: `read_side.telemetry_dynamodb`).

Applying a batch of `BatchRecorded` events:

1. raw items: one immutable Put per (device, hour, event); their key depends on the event
   only, so writing one twice changes nothing;
2. rollups: the touched items are read (BatchGetItem, consistent), each event's contribution
   is merged only if the event's stream version is above the item's guard `v`, and the item is
   Put back with the new `v`, on condition that it is still the version read (or absent);
3. the actions go out in transactions of at most 99 actions and ~3.5 MB, each with the
   tracking item: a check on all but the last, the checkpoint on the last
   (`write_parts_with_tracking`, see `event_store.dynamodb.parts`).

Before 1., the late entries (redeliveries past the stream's window, `projections.telemetry`)
whose message a raw item of an EARLIER event of the device already holds are dropped: one
consistent Query per (device, hour) they fall in, read before any action is built (like the
rollups' BatchGetItem). Only earlier versions count, so an event never finds its own items:
a replay after a partial commit, or a rebuild, drops the same entries and re-puts the same
items. The normal path (no late entry) reads nothing more.

A typical event (3 metrics x 3 resolutions, one hour) is one read and one 10-action
transaction. A bigger one (many metrics, entries spread over days) needs several
transactions: if the process dies between two, the replay re-reads the rollups, skips what
their guards say was absorbed, and re-puts identical raw items, so nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from projections.telemetry import (
    DeviceBatch,
    MessageKey,
    RawEntry,
    RollupKey,
    Stats,
    TelemetryView,
    without_repeats,
)
from read_side.dynamodb_tables import delete_all_items
from read_side.telemetry_dynamodb import (
    create_tables_kwargs,
    item_stats,
    raw_items,
    raw_table,
    rollup_pk,
    rollups_table,
    stats_attributes,
    stored_keys,
)

MAX_ACTIONS = 99  # + the checkpoint: DynamoDB allows 100 actions per transaction
MAX_TRANSACTION_BYTES = 3_500_000  # DynamoDB allows 4 MB
GET_BATCH = 100  # keys per BatchGetItem

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
        found: dict[ItemKey, dict[str, Any]] = {}
        for start in range(0, len(keys), GET_BATCH):
            request: dict[str, Any] = {
                table: {
                    "Keys": [
                        {"pk": {"S": pk}, "sk": {"N": str(sk)}}
                        for pk, sk in keys[start : start + GET_BATCH]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(table, []):
                    found[(item["pk"]["S"], int(item["sk"]["N"]))] = item
                request = response.get("UnprocessedKeys") or {}
        return found

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
