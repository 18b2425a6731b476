"""The users read model on DynamoDB: table `{prefix}users`, partition key `tenant_id` (S), sort
key `user_id` (S, hex): a tenant's users are one item collection. Attributes are those of
`read_side.users.to_record` (absent when null). Strongly consistent reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from read_side.users import USERS_TABLE, UserRow, UsersReader, from_record, to_record


def users_table(prefix: str) -> str:
    return f"{prefix}{USERS_TABLE}"


def users_table_kwargs(prefix: str) -> dict[str, Any]:
    return {
        "TableName": users_table(prefix),
        "KeySchema": [
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "user_id", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "user_id", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def to_item(row: UserRow) -> dict[str, Any]:
    """The low-level (client) item of a row."""
    return {
        name: {"N": str(value)} if isinstance(value, int) else {"S": value}
        for name, value in to_record(row).items()
        if value is not None
    }


def from_item(item: Mapping[str, Any]) -> UserRow:
    record = {name: value.get("S", value.get("N")) for name, value in item.items()}
    return from_record(record)


class DynamoDBUsersReader(UsersReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.table = users_table(table_prefix)

    def get(self, tenant_id: str, user_id: UUID) -> UserRow | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"tenant_id": {"S": tenant_id}, "user_id": {"S": user_id.hex}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else from_item(item)

    def tenant_users(self, tenant_id: str) -> list[UserRow]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="tenant_id = :t",
            ExpressionAttributeValues={":t": {"S": tenant_id}},
            ConsistentRead=True,
        )
        return [from_item(item) for page in pages for item in page.get("Items", [])]
