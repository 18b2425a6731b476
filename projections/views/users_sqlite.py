"""The users view on SQLite: row upserts and the checkpoint in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import Tracking

from event_store.sqlite import SQLiteTrackingRecorder
from projections.users import UsersView
from read_side.users import RECORD_FIELDS, USERS_TABLE, UserRow, to_record
from read_side.users_sqlite import CREATE_USERS_TABLE

_UPSERT = (
    f"INSERT OR REPLACE INTO {USERS_TABLE} ({', '.join(RECORD_FIELDS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join(':' + name for name in RECORD_FIELDS)})"
)


class SQLiteUsersView(SQLiteTrackingRecorder, UsersView):
    """Build with `app.factory.tracking_recorder(SQLiteUsersView)` to share the store's file."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), CREATE_USERS_TABLE]

    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_UPSERT, [to_record(row) for row in rows])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {USERS_TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
