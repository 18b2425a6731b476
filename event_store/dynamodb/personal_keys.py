"""The subjects' data keys (`event_store.personal_data`) in a DynamoDB table of their own.

Table `<prefix>personal_keys`: partition `pk` = `<namespace>#<subject hex>`, sort `sk` = the key
id, attribute `key` (binary). A destroyed key's item is deleted. What the table does not do by
itself (docs/audit.md 19.7): point-in-time recovery keeps a deleted item restorable for up to
35 days, and on AWS the table is encrypted with a KMS key; a deployment that must shred sooner
leaves PITR off on this table (the events table keeps it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from event_store.dynamodb.client import b, s
from event_store.dynamodb.datastore import DynamoDBDatastore
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.tables import ensure_tables, table_spec
from event_store.personal_data import new_key, new_key_id

PURPOSE = "personal_keys"


def personal_keys_table_spec(table_name: str) -> dict[str, Any]:
    return table_spec(table_name, "pk", "sk")


class DynamoDBPersonalKeys:
    def __init__(self, datastore: DynamoDBDatastore, *, create_table: bool = True) -> None:
        self.client = datastore.client
        self.table = datastore.table_name(PURPOSE)
        self.namespace = datastore.namespace
        if create_table:
            ensure_tables(self.client, [personal_keys_table_spec(self.table)])

    def writing_key(
        self, subject: UUID, make: Callable[[], bytes] | None = None
    ) -> tuple[str, bytes]:
        with translated_errors():
            found = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": s(self._pk(subject.hex))},
                ConsistentRead=True,
                Limit=1,
            )
        for item in found.get("Items", ()):
            return str(item["sk"]["S"]), bytes(item["key"]["B"])
        key_id = new_key_id(subject)  # a fresh random id: no condition needed
        key = (make or new_key)()
        with translated_errors():
            self.client.put_item(
                TableName=self.table,
                Item={"pk": s(self._pk(subject.hex)), "sk": s(key_id), "key": b(key)},
            )
        return key_id, key

    def key(self, key_id: str) -> bytes | None:
        subject = key_id.split(".", 1)[0]
        with translated_errors():
            item = self.client.get_item(
                TableName=self.table,
                Key={"pk": s(self._pk(subject)), "sk": s(key_id)},
                ConsistentRead=True,
            ).get("Item")
        return None if item is None else bytes(item["key"]["B"])

    def destroy(self, subject: UUID) -> int:
        pk = s(self._pk(subject.hex))
        destroyed = 0
        with translated_errors():
            while True:
                found = self.client.query(
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": pk},
                    ProjectionExpression="sk",
                    ConsistentRead=True,
                )
                items = found.get("Items", [])
                for item in items:
                    self.client.delete_item(TableName=self.table, Key={"pk": pk, "sk": item["sk"]})
                destroyed += len(items)
                if not items:
                    return destroyed

    def _pk(self, subject_hex: str) -> str:
        return f"{self.namespace}#{subject_hex}"
