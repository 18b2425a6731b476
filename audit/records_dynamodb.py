"""The DynamoDB event store's items read as `StoredRecord`s, for verification: every feed
commit item (each event at `a + offset`) and every stream commit item, by a Scan of the events
table. A reader of the feed (`select_notifications`) stops at the first missing id, which
would hide every event after a deleted one; the stream copies are what aggregates load.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import StoredEvent

from audit.canonical import StoredRecord, stream_text
from audit.records import record_of
from event_store.dynamodb import DynamoDBApplicationRecorder
from event_store.dynamodb.client import get_n
from event_store.dynamodb.codec import decode_feed_chunk, decode_stream_chunk
from event_store.dynamodb.errors import translated_errors


def scan_records(
    recorder: DynamoDBApplicationRecorder,
) -> tuple[list[StoredRecord], dict[str, list[StoredRecord]]]:
    """The feed's records (by position) and each stream's (by version; position 0)."""
    prefix = recorder.keys.prefix
    feed: list[StoredRecord] = []
    streams: dict[str, list[StoredRecord]] = {}
    for item in _scan(recorder.client, recorder.events_table_name):
        pk: str = item["pk"]["S"]
        if not pk.startswith(prefix):
            continue
        kind, _, rest = pk[len(prefix) :].partition("#")
        if kind == "f":
            first = get_n(item, "a")
            assert first is not None
            for offset, event in enumerate(decode_feed_chunk(item["b"]["B"])):
                feed.append(record_of(event, first + offset))
        elif kind == "s":
            stream_id = stream_text(rest)
            for r in decode_stream_chunk(item["b"]["B"]):
                event = StoredEvent(stream_id, r.version, r.topic, r.state)
                streams.setdefault(stream_id, []).append(record_of(event, 0))
    feed.sort(key=lambda r: r.position)
    for records in streams.values():
        records.sort(key=lambda r: r.version)
    return feed, streams


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        with translated_errors():
            response = client.scan(**kwargs)
        items += response.get("Items", [])
        if not response.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
