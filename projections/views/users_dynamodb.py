"""The users view on DynamoDB: row Puts and the checkpoint in one TransactWriteItems (at most
99 rows per transaction; a bigger batch commits its first parts without the checkpoint, which
is harmless to replay because rows are guarded by the user stream's version)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from projections.users import UsersView
from projections.views.dynamodb_tables import delete_all_items
from read_side.users import UserRow
from read_side.users_dynamodb import to_item, users_table, users_table_kwargs

ROWS_PER_TRANSACTION = 99  # + the checkpoint: DynamoDB's limit is 100 actions


class DynamoDBUsersView(DynamoDBTrackingRecorder, UsersView):
    """Build with `app.factory.tracking_recorder(DynamoDBUsersView)` (shares client, prefix)."""

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), users_table_kwargs(self.table_prefix)]

    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        table = users_table(self.table_prefix)
        puts = [{"Put": {"TableName": table, "Item": to_item(row)}} for row in rows]
        head, last = puts[:-ROWS_PER_TRANSACTION], puts[-ROWS_PER_TRANSACTION:]
        for start in range(0, len(head), ROWS_PER_TRANSACTION):
            self.client.transact_write_items(
                TransactItems=head[start : start + ROWS_PER_TRANSACTION]
            )
        self.write_with_tracking(tracking, last)

    def reset(self, application_name: str) -> None:
        delete_all_items(self.client, users_table(self.table_prefix), ("tenant_id", "user_id"))
        self.delete_tracking(application_name)
