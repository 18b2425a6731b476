"""The users model on DynamoDB: the table, its item codec, its writer (the view) and its
reader, side by side.

Table `{prefix}users`: partition key `tenant_id` (S), sort key `user_id` (S, hex), so a
tenant's users are one item collection. One attribute per field of the row (`ITEMS`, derived
from `UserRow`; absent when None), the preferences and push tokens as JSON text (S), as in
SQLite. The reader reads strongly consistent.

The writer: row Puts and the checkpoint in one TransactWriteItems (at most 99 rows per
transaction). A bigger batch is committed in parts, each guarded by the tracking item, the last
one recording it (`write_parts_with_tracking`); each Put also only replaces a row of a lower
user stream version, so neither a replay after a crash between parts nor a lagging second
worker interleaving its parts with ours can take a row back (`event_store.dynamodb.parts`
explains why both guards are needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import guarded_put, split
from event_store.dynamodb.tables import table_spec
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.dynamodb_tables import delete_all_items, get_one
from read_side.users.port import UsersReader, UsersView
from read_side.users.row import UserRow

TABLE_SUFFIX = "users"
ITEMS = DynamoDBItemCodec(UserRow, json_containers=True)


def table_name(prefix: str) -> str:
    return f"{prefix}{TABLE_SUFFIX}"


class DynamoDBUsersView(DynamoDBTrackingRecorder, UsersView):
    """Build with `app.factory.tracking_recorder(DynamoDBUsersView)` (shares client, prefix)."""

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        spec = table_spec(table_name(self.table_prefix), "tenant_id", "user_id")
        return [*super().construct_extra_tables(), spec]

    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        table = table_name(self.table_prefix)
        puts = [guarded_put(table, ITEMS.to_item(row), "version") for row in rows]
        self.write_parts_with_tracking(tracking, split(puts))

    def reset(self, application_name: str) -> None:
        delete_all_items(self.client, table_name(self.table_prefix), ("tenant_id", "user_id"))
        self.delete_tracking(application_name)


class DynamoDBUsersReader(UsersReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.table = table_name(table_prefix)

    def get(self, tenant_id: str, user_id: UUID) -> UserRow | None:
        key = {"tenant_id": {"S": tenant_id}, "user_id": {"S": user_id.hex}}
        item = get_one(self.client, self.table, key)
        return None if item is None else ITEMS.from_item(item)

    def tenant_users(self, tenant_id: str) -> list[UserRow]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="tenant_id = :t",
            ExpressionAttributeValues={":t": {"S": tenant_id}},
            ConsistentRead=True,
        )
        return [ITEMS.from_item(item) for page in pages for item in page.get("Items", [])]
