"""The users view on DynamoDB: row Puts and the checkpoint in one TransactWriteItems (at most
99 rows per transaction). A bigger batch is committed in parts, each guarded by the tracking
item, the last one recording it (`write_parts_with_tracking`); each Put also only replaces a
row of a lower user stream version, so neither a replay after a crash between parts nor a
lagging second worker interleaving its parts with ours can take a row back
(`event_store.dynamodb.parts` explains why both guards are needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import guarded_put, split
from projections.users import UsersView
from read_side.dynamodb_tables import delete_all_items
from read_side.users import UserRow
from read_side.users_dynamodb import to_item, users_table, users_table_kwargs


class DynamoDBUsersView(DynamoDBTrackingRecorder, UsersView):
    """Build with `app.factory.tracking_recorder(DynamoDBUsersView)` (shares client, prefix)."""

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), users_table_kwargs(self.table_prefix)]

    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        table = users_table(self.table_prefix)
        puts = [guarded_put(table, to_item(row), "version") for row in rows]
        self.write_parts_with_tracking(tracking, split(puts))

    def reset(self, application_name: str) -> None:
        delete_all_items(self.client, users_table(self.table_prefix), ("tenant_id", "user_id"))
        self.delete_tracking(application_name)
