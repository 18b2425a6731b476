"""The users read model on SQLite: table `users` in the event-store file (read-only here; the
`users` projection writes it)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from read_side.users import RECORD_FIELDS, USERS_TABLE, UserRow, UsersReader, from_record

CREATE_USERS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {USERS_TABLE} ("
    "tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, subject TEXT NOT NULL, email TEXT, "
    "display_name TEXT, phone_e164 TEXT, time_zone TEXT NOT NULL, locale TEXT NOT NULL, "
    "preferences TEXT NOT NULL, push_tokens TEXT NOT NULL, version INTEGER NOT NULL, "
    "updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id)) WITHOUT ROWID"
)
_SELECT = f"SELECT {', '.join(RECORD_FIELDS)} FROM {USERS_TABLE}"  # noqa: S608 - constants


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
