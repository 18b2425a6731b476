"""The users model on SQLite: table `users` in the read-models file, one column per field of the
row (`SQLITE_ROWS`, derived from `UserRow`), its writer (the view: row upserts and the
checkpoint in one transaction) and its reader, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.sqlite_rows import SQLiteRowCodec
from read_side.users.port import UsersReader, UsersView
from read_side.users.row import UserRow

TABLE = "users"
SQLITE_ROWS = SQLiteRowCodec(UserRow)
_SELECT = f"SELECT {', '.join(SQLITE_ROWS.names)} FROM {TABLE}"  # noqa: S608 - constants
_UPSERT = SQLITE_ROWS.upsert(TABLE)


class SQLiteUsersView(SQLiteTrackingRecorder, UsersView):
    """Build with `app.factory.tracking_recorder(SQLiteUsersView)` to share the store's file."""

    def construct_create_table_statements(self) -> list[str]:
        create = SQLITE_ROWS.create_table(TABLE, ("tenant_id", "user_id"))
        return [*super().construct_create_table_statements(), create]

    def _create_table(self, c: SQLiteCursor) -> None:
        """A file made before a field was added to the row gets its column."""
        super()._create_table(c)
        SQLITE_ROWS.add_missing_columns(c, TABLE)

    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_UPSERT, [SQLITE_ROWS.to_row(row) for row in rows])

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
        return None if row is None else SQLITE_ROWS.from_row(row)

    def tenant_users(self, tenant_id: str) -> list[UserRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT} WHERE tenant_id = ? ORDER BY user_id", (tenant_id,))
            rows = c.fetchall()
        return [SQLITE_ROWS.from_row(row) for row in rows]
