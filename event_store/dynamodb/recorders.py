"""The recorders: aggregate (streams), application (streams + feed), tracking, process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    Notification,
    ProcessRecorder,
    Recorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from event_store.dynamodb.client import DynamoDBClient, endpoint_of, get_n, n
from event_store.dynamodb.commit import CommitPlan, build_transaction
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.keys import FEED_BUCKET_SIZE, Keys
from event_store.dynamodb.local import FeedState, feed_state
from event_store.dynamodb.parts import check_sizes, commit_part, tracking_check
from event_store.dynamodb.reads import select_feed, select_stream
from event_store.dynamodb.subscription import DynamoDBSubscription
from event_store.dynamodb.tables import ensure_tables, events_table_spec, tracking_table_spec
from event_store.dynamodb.transact import RetryPolicy, run_transaction
from event_store.tracking import AlreadyTracked


@dataclass
class DynamoDBDatastore:
    """What every recorder of one factory shares: the client, table prefix and namespace."""

    client: DynamoDBClient
    table_prefix: str
    namespace: str = ""
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)

    def table_name(self, suffix: str) -> str:
        return f"{self.table_prefix}{suffix}"


class DynamoDBRecorder(Recorder):
    def __init__(self, datastore: DynamoDBDatastore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datastore = datastore
        self.client: DynamoDBClient = datastore.client
        self.table_prefix: str = datastore.table_prefix
        self.keys = Keys(datastore.namespace)

    def construct_tables(self) -> list[dict[str, Any]]:
        """CreateTable kwargs of every table this recorder needs."""
        return []

    def create_table(self) -> None:
        """Create this recorder's tables unless they exist (waits until they are ACTIVE)."""
        ensure_tables(self.client, self.construct_tables())


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


class DynamoDBTrackingRecorder(DynamoDBRecorder, TrackingRecorder):
    """One tracking item per upstream application: ``n`` = the last notification id processed.

    Extension point for read models: `write_with_tracking` commits the tracking update and the
    caller's own actions in one transaction; `construct_extra_tables` names the caller's tables.
    """

    def __init__(
        self,
        datastore: DynamoDBDatastore,
        *,
        tracking_table_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_table_name = tracking_table_name or datastore.table_name("tracking")

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        """CreateTable kwargs of a subclass's own tables (created by `create_table`)."""
        return []

    def construct_tables(self) -> list[dict[str, Any]]:
        return [
            *super().construct_tables(),
            tracking_table_spec(self.tracking_table_name),
            *self.construct_extra_tables(),
        ]

    def tracking_action(self, tracking: Tracking) -> dict[str, Any]:
        """The TransactItems action recording `tracking` (fails unless it advances)."""
        return {
            "Update": {
                "TableName": self.tracking_table_name,
                "Key": self.keys.tracking(tracking.application_name),
                "UpdateExpression": "SET n = :id",
                "ConditionExpression": "attribute_not_exists(n) OR n < :id",
                "ExpressionAttributeValues": {":id": n(tracking.notification_id)},
            }
        }

    def insert_tracking(self, tracking: Tracking) -> None:
        try:
            with translated_errors():
                self.client.update_item(**self.tracking_action(tracking)["Update"])
        except IntegrityError as e:  # the tracking condition is the only one here
            raise AlreadyTracked(str(e)) from e

    def max_tracking_id(self, application_name: str) -> int | None:
        with translated_errors():
            response = self.client.get_item(
                TableName=self.tracking_table_name,
                Key=self.keys.tracking(application_name),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else get_n(item, "n")

    def delete_tracking(self, application_name: str) -> None:
        """Forget the position recorded for an upstream application (to rebuild a read model
        from the start). Not atomic with anything else."""
        with translated_errors():
            self.client.delete_item(
                TableName=self.tracking_table_name, Key=self.keys.tracking(application_name)
            )

    def write_with_tracking(self, tracking: Tracking, items: Sequence[Mapping[str, Any]]) -> None:
        """Commit the tracking update and `items` (boto3 client-format TransactItems actions,
        TableName included) in ONE transaction (at most 99 items).

        Raises AlreadyTracked if the tracking id does not advance (the notification was already
        processed), another IntegrityError if one of the items' own conditions fails: then
        nothing is written.
        """
        self.write_parts_with_tracking(tracking, [items])

    def write_parts_with_tracking(
        self, tracking: Tracking, parts: Sequence[Sequence[Mapping[str, Any]]]
    ) -> None:
        """Commit `parts` (at most 99 items each) as one transaction each, in order: each one
        checks that `tracking` still advances, the last one records it (see `.parts` for why,
        and why the items need their own row guards). AlreadyTracked when the tracking
        condition fails; another IntegrityError (earlier parts stay committed) when an item's
        own condition does."""
        check_sizes(parts)
        update = self.tracking_action(tracking)
        check = tracking_check(update)
        *first, last = list(parts) or [[]]
        for part in first:
            commit_part(self.client, self.datastore.retry_policy, check, part)
        commit_part(self.client, self.datastore.retry_policy, update, last)


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
