"""Planning ``insert_events`` calls as one TransactWriteItems request.

A :class:`CommitPlan` holds one call's actions; :func:`build_transaction` puts the plans of one
or more calls (a group commit) in one request for a given feed head. Actions, in order (the
``kinds`` and ``owners`` of :class:`Built` say what each is, to interpret cancellations):

1. ``head``: the feed head (application recorders only), ``n = expected`` -> ``expected + k``;
then per call (plan), in the calls' order:
2. ``tracking``: the tracking item (process recorders called with ``tracking=``);
3. ``stream_head``: one per stream, ``attribute_not_exists(v) OR v < :first`` -> ``v = :last``;
4. ``stream``: the stream's commit chunks (Put, sk = last version of the chunk);
5. ``feed``: the call's feed commit chunks (Put, sk = last notification id of the chunk).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DataError, IntegrityError, StoredEvent

from event_store.dynamodb.client import Item, b, n, s
from event_store.dynamodb.codec import (
    check_event,
    encode_feed_chunk,
    encode_stream_chunk,
    estimate_event_size,
)
from event_store.dynamodb.errors import (
    MAX_TRANSACTION_ACTIONS,
    MAX_TRANSACTION_BYTES,
    TransactionLimitError,
)
from event_store.dynamodb.keys import Keys

CHUNK_BYTES = 350_000
"""Budget of event bytes per commit item (DynamoDB items are limited to 400 KB)."""

UPDATE_ACTION_BYTES = 300
"""Size estimate of a small Update action (keys, expressions and numbers)."""

ITEM_OVERHEAD_BYTES = 64
"""Size estimate of a commit item's key and attributes, besides its blob."""

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit."""


@dataclass
class StreamGroup:
    originator_id: UUID | str
    records: list[tuple[int, StoredEvent]] = field(default_factory=list)


@dataclass
class Built:
    """One attempt's TransactItems: what each action is and which plan owns it, the new feed
    head, and each plan's notification ids (None without a feed)."""

    items: list[dict[str, Any]]
    kinds: list[str]
    owners: list[int]
    new_head: int
    notification_ids: list[list[int] | None]


def group_streams(events: Sequence[StoredEvent]) -> list[StreamGroup]:
    """Events grouped by stream in version order; duplicate versions raise IntegrityError."""
    groups: dict[str, StreamGroup] = {}
    for offset, event in enumerate(events):
        check_event(event)
        key = str(event.originator_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = StreamGroup(event.originator_id)
        group.records.append((offset, event))
    for group in groups.values():
        group.records.sort(key=lambda r: r[1].originator_version)
        versions = [e.originator_version for _, e in group.records]
        if len(set(versions)) != len(versions):
            msg = f"Duplicate versions of {group.originator_id} in one call: {versions}"
            raise IntegrityError(msg)
    return list(groups.values())


def split_by_size(sizes: Sequence[int], budget: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """[start, stop) index ranges whose summed sizes stay within budget (at least one each)."""
    ranges: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > budget:
            ranges.append((start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def _checked_size(blob: bytes, pk: str) -> int:
    """The estimated size of a commit item; DataError if it exceeds DynamoDB's item limit
    (only an event whose state alone is near 400 KB can do that)."""
    size = len(blob) + len(pk.encode("utf-8")) + ITEM_OVERHEAD_BYTES
    if size > MAX_ITEM_BYTES:
        msg = (
            f"An event too large for one DynamoDB item ({size:,} bytes of at most "
            f"{MAX_ITEM_BYTES:,}, after compression): store large payloads elsewhere"
        )
        raise DataError(msg)
    return size


def _item_identity(action: dict[str, Any]) -> str:
    """Table and key of the item an Update/Put/Delete/ConditionCheck action touches."""
    ((_, body),) = action.items()
    key = body.get("Key") or body.get("Item", {})
    return json.dumps([body.get("TableName"), key], sort_keys=True, default=str)


class CommitPlan:
    """The actions of one ``insert_events`` call, except those that depend on the feed head."""

    def __init__(
        self,
        *,
        table_name: str,
        keys: Keys,
        events: Sequence[StoredEvent],
        with_feed: bool,
        bucket_size: int,
        leading_items: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        self.table_name = table_name
        self.keys = keys
        self.events = list(events)
        self.with_feed = with_feed and bool(self.events)
        self.bucket_size = bucket_size
        self.leading_items = list(leading_items)
        self.sizes = [estimate_event_size(e) for e in self.events]
        self.stream_heads: list[dict[str, Any]] = []
        self.stream_chunks: list[tuple[Item, int]] = []  # (item, bytes)
        for group in group_streams(self.events):
            self._plan_stream(group)
        self._feed_ranges = split_by_size(self.sizes)
        self._feed_blobs: dict[tuple[int, int], bytes] = {}
        self.identities = frozenset(
            _item_identity(action)
            for action in [*(item for _, item in self.leading_items), *self.stream_heads]
        )
        # Bounds for grouping calls (the feed head, shared, is not counted); the exact check
        # is made when the transaction is built.
        stream_bytes = sum(size for _, size in self.stream_chunks)
        self.max_actions = len(self.leading_items) + len(self.stream_heads)
        self.max_actions += len(self.stream_chunks)
        self.max_bytes = UPDATE_ACTION_BYTES * self.max_actions + stream_bytes
        min_actions = self.max_actions
        if self.with_feed:
            min_actions += 1 + len(self._feed_ranges)
            self.max_actions += len(self._feed_ranges) + len(self.events) // bucket_size + 1
            self.max_bytes += stream_bytes + stream_bytes // 10 + 1024
        check_limits(min_actions, 0, self)

    def _plan_stream(self, group: StreamGroup) -> None:
        records = group.records
        first = records[0][1].originator_version
        last = records[-1][1].originator_version
        self.stream_heads.append(
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self.keys.stream_head(group.originator_id),
                    "UpdateExpression": "SET v = :last",
                    "ConditionExpression": "attribute_not_exists(v) OR v < :first",
                    "ExpressionAttributeValues": {":last": n(last), ":first": n(first)},
                }
            }
        )
        pk = self.keys.stream_pk(group.originator_id)
        sizes = [self.sizes[offset] for offset, _ in records]
        for start, stop in split_by_size(sizes):
            chunk = records[start:stop]
            blob = encode_stream_chunk(chunk)
            item: Item = {
                "pk": s(pk),
                "sk": n(chunk[-1][1].originator_version),
                "a": n(chunk[0][1].originator_version),
                "b": b(blob),
            }
            self.stream_chunks.append((item, _checked_size(blob, pk)))

    def feed_ranges(self, base: int) -> list[tuple[int, int]]:
        """[start, stop) event index ranges of feed chunks: split by size and by bucket.

        `base` is the feed head before this call's events (event i gets id base + 1 + i).
        """
        ranges: list[tuple[int, int]] = []
        for start, stop in self._feed_ranges:
            i = start
            while i < stop:
                bucket = (base + 1 + i) // self.bucket_size
                j = min(stop, (bucket + 1) * self.bucket_size - base - 1)
                ranges.append((i, j))
                i = j
        return ranges

    def feed_items(self, base: int) -> tuple[list[dict[str, Any]], int]:
        """Put actions of this call's feed chunks, and their size, for head `base`."""
        items: list[dict[str, Any]] = []
        total = 0
        for start, stop in self.feed_ranges(base):
            blob = self._feed_blobs.get((start, stop))
            if blob is None:
                blob = self._feed_blobs[start, stop] = encode_feed_chunk(self.events[start:stop])
            first_id = base + 1 + start
            pk = self.keys.feed_pk(first_id // self.bucket_size)
            item: Item = {"pk": s(pk), "sk": n(base + stop), "a": n(first_id), "b": b(blob)}
            items.append({"Put": {"TableName": self.table_name, "Item": item}})
            total += _checked_size(blob, pk)
        return items, total


def check_limits(actions: int, size: int, plan: CommitPlan | None = None) -> None:
    """Raise TransactionLimitError unless a transaction of this many actions and bytes fits."""
    if actions > MAX_TRANSACTION_ACTIONS:
        streams = f" ({len(plan.stream_heads)} streams)" if plan is not None else ""
        msg = (
            f"This call needs {actions} DynamoDB transaction actions{streams}: each stream "
            f"takes a stream-head update plus at least one commit item, and the feed takes "
            f"its head plus its commit items; one transaction holds at most "
            f"{MAX_TRANSACTION_ACTIONS}. Save fewer aggregates per call "
            f"(at most {(MAX_TRANSACTION_ACTIONS - 2) // 2} small ones). Nothing was written."
        )
        raise TransactionLimitError(msg)
    if size > MAX_TRANSACTION_BYTES:
        msg = (
            f"This call's events need about {size:,} bytes in one DynamoDB transaction "
            f"(events are stored in their stream and in the feed); the limit is "
            f"{MAX_TRANSACTION_BYTES:,}. Insert fewer or smaller events per call. "
            "Nothing was written."
        )
        raise TransactionLimitError(msg)


def _head_action(table_name: str, keys: Keys, expected: int, new_head: int) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": keys.feed_head(),
        "UpdateExpression": "SET n = :new",
        "ExpressionAttributeValues": {":new": n(new_head)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if expected == 0:
        update["ConditionExpression"] = "attribute_not_exists(n)"
    else:
        update["ConditionExpression"] = "n = :expected"
        update["ExpressionAttributeValues"][":expected"] = n(expected)
    return {"Update": update}


def build_transaction(plans: Sequence[CommitPlan], expected: int) -> Built:
    """The TransactItems committing `plans` (in order) if the feed head is `expected`."""
    items: list[dict[str, Any]] = []
    kinds: list[str] = []
    owners: list[int] = []
    with_feed = any(plan.with_feed for plan in plans)
    new_head = expected + sum(len(plan.events) for plan in plans if plan.with_feed)
    if with_feed:
        items.append(_head_action(plans[0].table_name, plans[0].keys, expected, new_head))
        kinds.append("head")
        owners.append(-1)
    size = UPDATE_ACTION_BYTES
    base = expected
    notification_ids: list[list[int] | None] = []
    for index, plan in enumerate(plans):
        plan_items: list[tuple[str, dict[str, Any]]] = list(plan.leading_items)
        plan_items += [("stream_head", item) for item in plan.stream_heads]
        size += UPDATE_ACTION_BYTES * len(plan_items)
        for chunk, chunk_size in plan.stream_chunks:
            put_item = dict(chunk)
            if plan.with_feed:
                put_item["n0"] = n(base)
            plan_items.append(("stream", {"Put": {"TableName": plan.table_name, "Item": put_item}}))
            size += chunk_size
        if plan.with_feed:
            feed_items, feed_size = plan.feed_items(base)
            plan_items += [("feed", item) for item in feed_items]
            size += feed_size
            notification_ids.append(list(range(base + 1, base + 1 + len(plan.events))))
            base += len(plan.events)
        else:
            notification_ids.append(None)
        for kind, item in plan_items:
            items.append(item)
            kinds.append(kind)
            owners.append(index)
    check_limits(len(items), size, plans[0] if len(plans) == 1 else None)
    return Built(items, kinds, owners, new_head, notification_ids)
