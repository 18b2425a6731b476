"""Reading streams and the feed (strongly consistent Queries over commit items)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from event_store.dynamodb.client import DynamoDBClient, Item, get_n, n, s
from event_store.dynamodb.codec import decode_feed_chunk, decode_stream_chunk
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.keys import Keys

MAX_QUERY_PAGE_ITEMS = 1000


def query_items(client: DynamoDBClient, **kwargs: Any) -> Iterator[Item]:
    """Items of a Query, page after page (lazily: stop iterating to stop reading)."""
    while True:
        with translated_errors():
            response = client.query(**kwargs)
        items: list[Item] = response.get("Items", [])
        yield from items
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return
        kwargs["ExclusiveStartKey"] = last_key


def select_stream(
    client: DynamoDBClient,
    table_name: str,
    keys: Keys,
    originator_id: UUID | str,
    *,
    gt: int | None,
    lte: int | None,
    desc: bool,
    limit: int | None,
) -> list[StoredEvent]:
    """Events of one stream, from its commit items (sk = last version of the chunk)."""
    if limit is not None and limit <= 0:
        return []
    condition = "pk = :pk"
    values: dict[str, Any] = {":pk": s(keys.stream_pk(originator_id))}
    if gt is not None:
        condition += " AND sk > :gt"  # chunks holding some version > gt
        values[":gt"] = n(gt)
    page = MAX_QUERY_PAGE_ITEMS if limit is None else min(MAX_QUERY_PAGE_ITEMS, limit + 1)
    result: list[StoredEvent] = []
    for item in query_items(
        client,
        TableName=table_name,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        ScanIndexForward=not desc,
        ConsistentRead=True,
        Limit=page,
    ):
        first_version = get_n(item, "a")
        if lte is not None and first_version is not None and first_version > lte:
            if desc:
                continue  # wholly above lte: older chunks follow
            break  # wholly above lte: so are all later chunks
        records = decode_stream_chunk(item["b"]["B"])
        if desc:
            records.reverse()
        for record in records:
            if gt is not None and record.version <= gt:
                continue
            if lte is not None and record.version > lte:
                continue
            result.append(
                StoredEvent(
                    originator_id=originator_id,
                    originator_version=record.version,
                    topic=record.topic,
                    state=record.state,
                )
            )
            if limit is not None and len(result) >= limit:
                return result
    return result


def select_feed(
    client: DynamoDBClient,
    table_name: str,
    keys: Keys,
    bucket_size: int,
    *,
    first: int,
    limit: int,
    stop: int | None,
    topics: Sequence[str],
) -> list[Notification]:
    """Notifications with ids >= first (and <= stop), in order, without gaps.

    Ids are contiguous, so a missing id means a commit that is not visible yet (DynamoDB's
    Query is read-committed per item): stop there rather than return a later id first.
    """
    if limit <= 0 or (stop is not None and stop < first):
        return []
    topic_set = frozenset(topics)
    result: list[Notification] = []
    expected = first  # the next id this reader may return
    bucket = first // bucket_size
    while True:
        page = min(MAX_QUERY_PAGE_ITEMS, limit + 1)
        for item in query_items(
            client,
            TableName=table_name,
            KeyConditionExpression="pk = :pk AND sk >= :first",
            ExpressionAttributeValues={":pk": s(keys.feed_pk(bucket)), ":first": n(expected)},
            ConsistentRead=True,
            Limit=page,
        ):
            chunk_first = get_n(item, "a")
            chunk_last = get_n(item, "sk")
            assert chunk_first is not None
            assert chunk_last is not None
            if chunk_first > expected or (stop is not None and chunk_first > stop):
                return result  # a gap (not yet visible), or beyond stop
            events = decode_feed_chunk(item["b"]["B"])
            for i in range(max(0, expected - chunk_first), len(events)):
                notification_id = chunk_first + i
                if stop is not None and notification_id > stop:
                    return result
                event = events[i]
                if topic_set and event.topic not in topic_set:
                    continue
                result.append(
                    Notification(
                        id=notification_id,
                        originator_id=event.originator_id,
                        originator_version=event.originator_version,
                        topic=event.topic,
                        state=event.state,
                    )
                )
                if len(result) >= limit:
                    return result
            expected = chunk_last + 1
        if expected != (bucket + 1) * bucket_size:
            return result  # this bucket is not full: nothing follows yet
        bucket += 1
