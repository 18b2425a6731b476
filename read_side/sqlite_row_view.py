"""A read model kept in one SQLite table of one row type (`users`, `exports`): its table made
from the row's fields (`SQLiteRowCodec`), columns added for fields a newer row type has, rows
upserted with the checkpoint in one transaction, and reset. A model names its table, codec
and key; its reader reads with the same codec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.sqlite_rows import SQLiteRowCodec

Row = TypeVar("Row")


class SQLiteRowsView(SQLiteTrackingRecorder, Generic[Row]):
    """Build a subclass with `app.factory.tracking_recorder(...)` to share the store's file."""

    TABLE: ClassVar[str]
    ROWS: ClassVar[SQLiteRowCodec[Any]]
    KEY: ClassVar[tuple[str, ...]]

    def construct_create_table_statements(self) -> list[str]:
        create = self.ROWS.create_table(self.TABLE, self.KEY)
        return [*super().construct_create_table_statements(), create]

    def _create_table(self, c: SQLiteCursor) -> None:
        """A file made before a field was added to the row gets its column."""
        super()._create_table(c)
        self.ROWS.add_missing_columns(c, self.TABLE)

    def save_many(self, rows: Sequence[Row], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(self.ROWS.upsert(self.TABLE), [self.ROWS.to_row(r) for r in rows])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {self.TABLE}")  # noqa: S608 - a class constant
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
