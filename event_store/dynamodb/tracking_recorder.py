"""The tracking recorder: one item per upstream application, and transactions with it.

Apart from `.recorders` (the event recorders) because this is what every consumer builds on,
not only the process recorder: each DynamoDB read-model view and the outbox subclass it to
commit their own items and the checkpoint together (`write_with_tracking`,
`write_parts_with_tracking`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from event_store.dynamodb.client import Item, get_n, n
from event_store.dynamodb.datastore import DynamoDBDatastore, DynamoDBRecorder
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.leases import FENCE, DynamoDBLeases
from event_store.dynamodb.parts import check_sizes, commit_part, tracking_check
from event_store.dynamodb.tables import tracking_table_spec
from event_store.tracking import AlreadyTracked


class DynamoDBTrackingRecorder(DynamoDBLeases, DynamoDBRecorder, TrackingRecorder):
    """One tracking item per upstream application: ``n`` = the last notification id processed,
    and the consumer's worker lease (`.leases`).

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

    def tracking_key(self, application_name: str) -> Item:
        return self.keys.tracking(application_name)

    def tracking_action(self, tracking: Tracking) -> dict[str, Any]:
        """The TransactItems action recording `tracking` (fails unless it advances, and while
        this process holds the consumer's lease, unless the stored token is still its own)."""
        condition = "(attribute_not_exists(n) OR n < :id)"
        values = {":id": n(tracking.notification_id)}
        fence = self.fence_clause(tracking.application_name)
        if fence is not None:
            condition = f"{condition} AND {FENCE}"
            values.update(fence)
        return {
            "Update": {
                "TableName": self.tracking_table_name,
                "Key": self.keys.tracking(tracking.application_name),
                "UpdateExpression": "SET n = :id",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def insert_tracking(self, tracking: Tracking) -> None:
        try:
            with translated_errors():
                self.client.update_item(**self.tracking_action(tracking)["Update"])
        except IntegrityError as e:  # the tracking condition is the only one here
            raise self.fenced(tracking.application_name, AlreadyTracked(str(e))) from e

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
        from the start). Not atomic with anything else. The item stays: it holds the lease,
        whose token must never be given again."""
        with translated_errors():
            self.client.update_item(
                TableName=self.tracking_table_name,
                Key=self.keys.tracking(application_name),
                UpdateExpression="REMOVE n",
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
        try:
            for part in first:
                commit_part(self.client, self.datastore.retry_policy, check, part)
            commit_part(self.client, self.datastore.retry_policy, update, last)
        except AlreadyTracked as e:
            raise self.fenced(tracking.application_name, e) from e
