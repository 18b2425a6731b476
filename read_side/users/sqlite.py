"""The users model on SQLite: table `users` in the read-models file, its writer (the view: row
upserts and the checkpoint in one transaction) and its reader, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.users.port import UsersReader, UsersView
from read_side.users.row import RECORD_FIELDS, UserRow, from_record, to_record

TABLE = "users"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, subject TEXT NOT NULL, email TEXT, "
    "display_name TEXT, phone_e164 TEXT, time_zone TEXT NOT NULL, locale TEXT NOT NULL, "
    "preferences TEXT NOT NULL, push_tokens TEXT NOT NULL, version INTEGER NOT NULL, "
    "updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id)) WITHOUT ROWID"
)
_SELECT = f"SELECT {', '.join(RECORD_FIELDS)} FROM {TABLE}"  # noqa: S608 - constants
_UPSERT = (
    f"INSERT OR REPLACE INTO {TABLE} ({', '.join(RECORD_FIELDS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join(':' + name for name in RECORD_FIELDS)})"
)


class SQLiteUsersView(SQLiteTrackingRecorder, UsersView):
    """Build with `app.factory.tracking_recorder(SQLiteUsersView)` to share the store's file."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), CREATE_TABLE]

    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_UPSERT, [to_record(row) for row in rows])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


class SQLiteUsersReader(UsersReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def get(self, tenant_id: str, user_id: UUID) -> UserRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT} WHERE tenant_id = ? AND user_id = ?", (tenant_id, user_id.hex))
            row = c.fetchone()
        return None if row is None else from_record(dict(zip(RECORD_FIELDS, row, strict=True)))

    def tenant_users(self, tenant_id: str) -> list[UserRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT} WHERE tenant_id = ? ORDER BY user_id", (tenant_id,))
            rows = c.fetchall()
        return [from_record(dict(zip(RECORD_FIELDS, row, strict=True))) for row in rows]
