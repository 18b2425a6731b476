"""The users model on SQLite: table `users` in the read-models file, one column per field of the
row (`SQLITE_ROWS`, derived from `UserRow`), its writer (the view: row upserts and the
checkpoint in one transaction) and its reader, side by side."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from read_side.sqlite_row_view import SQLiteRowsView
from read_side.sqlite_rows import SQLiteRowCodec
from read_side.users.port import UsersReader, UsersView
from read_side.users.row import UserRow

TABLE = "users"
SQLITE_ROWS = SQLiteRowCodec(UserRow)
_SELECT = f"SELECT {', '.join(SQLITE_ROWS.names)} FROM {TABLE}"  # noqa: S608 - constants


class SQLiteUsersView(SQLiteRowsView[UserRow], UsersView):
    """Build with `app.factory.tracking_recorder(SQLiteUsersView)` to share the store's file."""

    TABLE, ROWS, KEY = TABLE, SQLITE_ROWS, ("tenant_id", "user_id")


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
