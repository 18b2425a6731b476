"""Which device an open alert belongs to, for the device-status views.

`Alert.Escalated` and `Alert.Resolved` carry no device id (only `Alert.Raised` does), so the
device-status projection links each open alert to its device when it is raised and forgets the
link when it is resolved. The links are written in the same transaction as the rows.

- SQLite: `device_status_alerts(tenant_id, alert_id, device_id)`, PK (tenant_id, alert_id).
- DynamoDB: `{prefix}device_status_alerts`, `tenant_id` (S, hash), `alert_id` (S, range, hex),
  attribute `device_id` (S, hex).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.dynamodb.tables import table_spec
from read_side.device_status.port import AlertLinks
from read_side.dynamodb_tables import batch_get, delete_all_items

TABLE = "device_status_alerts"
CREATE_SQLITE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL, "
    "device_id TEXT NOT NULL, PRIMARY KEY (tenant_id, alert_id)) WITHOUT ROWID"
)


def sqlite_write(c: SQLiteCursor, links: AlertLinks | None) -> None:
    for (tenant_id, alert_id), device_id in (links or {}).items():
        if device_id is None:
            c.execute(
                f"DELETE FROM {TABLE} WHERE tenant_id = ? AND alert_id = ?",  # noqa: S608
                (tenant_id, alert_id),
            )
        else:
            c.execute(
                f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?)",  # noqa: S608 - constant
                (tenant_id, alert_id, device_id.hex),
            )


def sqlite_read(datastore: SQLiteDatastore, tenant_id: str, ids: Sequence[str]) -> dict[str, UUID]:
    found: dict[str, UUID] = {}
    with datastore.transaction(commit=False) as c:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            c.execute(
                f"SELECT alert_id, device_id FROM {TABLE} "  # noqa: S608 - constant, marks
                f"WHERE tenant_id = ? AND alert_id IN ({marks})",
                (tenant_id, *chunk),
            )
            found.update((row[0], UUID(hex=row[1])) for row in c.fetchall())
    return found


def dynamodb_table(prefix: str) -> str:
    return f"{prefix}{TABLE}"


def dynamodb_table_kwargs(prefix: str) -> dict[str, Any]:
    return table_spec(dynamodb_table(prefix), "tenant_id", "alert_id")


def dynamodb_actions(prefix: str, links: AlertLinks | None) -> list[dict[str, Any]]:
    """TransactItems actions recording (Put) or forgetting (Delete) the links."""
    table = dynamodb_table(prefix)
    actions: list[dict[str, Any]] = []
    for (tenant_id, alert_id), device_id in (links or {}).items():
        key = {"tenant_id": {"S": tenant_id}, "alert_id": {"S": alert_id}}
        if device_id is None:
            actions.append({"Delete": {"TableName": table, "Key": key}})
        else:
            item = {**key, "device_id": {"S": device_id.hex}}
            actions.append({"Put": {"TableName": table, "Item": item}})
    return actions


def dynamodb_read(client: Any, prefix: str, tenant_id: str, ids: Sequence[str]) -> dict[str, UUID]:
    unique = dict.fromkeys(ids)
    keys = [{"tenant_id": {"S": tenant_id}, "alert_id": {"S": alert_id}} for alert_id in unique]
    return {
        item["alert_id"]["S"]: UUID(hex=item["device_id"]["S"])
        for item in batch_get(client, dynamodb_table(prefix), keys)
    }


def dynamodb_delete_all(client: Any, prefix: str) -> None:
    delete_all_items(client, dynamodb_table(prefix), ("tenant_id", "alert_id"))
