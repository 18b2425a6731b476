"""The recorders: aggregate (streams), application (streams + feed), process.

The datastore and the base recorder are `.datastore`; the tracking recorder (also the base of
every DynamoDB read-model view) is `.tracking_recorder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
)

from event_store.dynamodb.client import endpoint_of, get_n
from event_store.dynamodb.commit import CommitPlan, build_transaction
from event_store.dynamodb.datastore import DynamoDBDatastore, DynamoDBRecorder
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.keys import FEED_BUCKET_SIZE
from event_store.dynamodb.local import FeedState, feed_state
from event_store.dynamodb.reads import select_feed, select_stream
from event_store.dynamodb.subscription import DynamoDBSubscription
from event_store.dynamodb.tables import events_table_spec
from event_store.dynamodb.tracking_recorder import DynamoDBTrackingRecorder
from event_store.dynamodb.transact import CommitConflict, run_transaction


class DynamoDBAggregateRecorder(DynamoDBRecorder, AggregateRecorder):
    """Streams only (used for snapshots): insert_events returns None."""

    def __init__(
        self,
        datastore: DynamoDBDatastore,
        *,
        events_table_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.events_table_name = events_table_name or datastore.table_name("events")

    def construct_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_tables(), events_table_spec(self.events_table_name)]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        plan = CommitPlan(
            table_name=self.events_table_name,
            keys=self.keys,
            events=stored_events,
            with_feed=False,
            bucket_size=FEED_BUCKET_SIZE,
        )
        run_transaction(
            self.client,
            lambda expected: build_transaction([plan], expected),
            0,
            self.datastore.retry_policy,
        )
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return select_stream(
            self.client,
            self.events_table_name,
            self.keys,
            originator_id,
            gt=gt,
            lte=lte,
            desc=desc,
            limit=limit,
        )


class DynamoDBApplicationRecorder(DynamoDBAggregateRecorder, ApplicationRecorder):
    """Streams plus the feed: contiguous, non-interleaved notification ids."""

    feed_bucket_size: int = FEED_BUCKET_SIZE

    def __init__(self, datastore: DynamoDBDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.feed_state: FeedState = feed_state(
            endpoint_of(self.client), self.events_table_name, datastore.namespace
        )

    def leading_items(self, **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
        """Extra (kind, action) pairs to commit with the events (the process recorder's
        tracking update)."""
        return []

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        leading = self.leading_items(**kwargs)
        if not stored_events and not leading:
            return []
        plan = CommitPlan(
            table_name=self.events_table_name,
            keys=self.keys,
            events=stored_events,
            with_feed=True,
            bucket_size=self.feed_bucket_size,
            leading_items=leading,
        )
        state = self.feed_state
        ids = state.writer.commit(plan, self.client, self.datastore.retry_policy)
        if stored_events and ids:
            state.notify(max(ids))
        return ids or []

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if start is None:
            start, inclusive_of_start = 1, True
        first = start if inclusive_of_start else start + 1
        return select_feed(
            self.client,
            self.events_table_name,
            self.keys,
            self.feed_bucket_size,
            first=max(first, 1),
            limit=limit,
            stop=stop,
            topics=topics,
        )

    def max_notification_id(self) -> int | None:
        with translated_errors():
            response = self.client.get_item(
                TableName=self.events_table_name,
                Key=self.keys.feed_head(),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else get_n(item, "n")

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return DynamoDBSubscription(recorder=self, gt=gt, topics=topics)


class DynamoDBProcessRecorder(
    DynamoDBTrackingRecorder, DynamoDBApplicationRecorder, ProcessRecorder
):
    """Application recorder whose insert_events(..., tracking=...) records the tracking
    update in the same transaction as the events."""

    def leading_items(self, **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
        tracking: Tracking | None = kwargs.get("tracking")
        items = super().leading_items(**kwargs)
        if tracking is not None:
            items.append(("tracking", self.tracking_action(tracking)))
        return items

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """As the application recorder's; `Fenced` when the tracking condition failed on
        another holder's lease token (`.leases`)."""
        try:
            return super().insert_events(stored_events, **kwargs)
        except CommitConflict as e:
            tracking: Tracking | None = kwargs.get("tracking")
            if tracking is None or "tracking" not in e.kinds:
                raise
            fenced = self.fenced(tracking.application_name, e)
            if fenced is e:
                raise
            raise fenced from e
