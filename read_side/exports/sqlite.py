"""The exports model on SQLite: table `exports` in the read-models file, one column per field
of `ExportRow`; its writer (row upserts and the checkpoint in one transaction) and its reader."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.exports.port import ExportsReader, ExportsView
from read_side.exports.row import ExportRow
from read_side.sqlite_rows import SQLiteRowCodec

TABLE = "exports"
SQLITE_ROWS = SQLiteRowCodec(ExportRow)
_SELECT = f"SELECT {', '.join(SQLITE_ROWS.names)} FROM {TABLE}"  # noqa: S608 - constants
_UPSERT = SQLITE_ROWS.upsert(TABLE)


class SQLiteExportsView(SQLiteTrackingRecorder, ExportsView):
    """Build with `app.factory.tracking_recorder(SQLiteExportsView)` to share the store's file."""

    def construct_create_table_statements(self) -> list[str]:
        create = SQLITE_ROWS.create_table(TABLE, ("tenant_id", "export_id"))
        return [*super().construct_create_table_statements(), create]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        SQLITE_ROWS.add_missing_columns(c, TABLE)

    def save_many(self, rows: Sequence[ExportRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_UPSERT, [SQLITE_ROWS.to_row(row) for row in rows])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


class SQLiteExportsReader(ExportsReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def get(self, tenant_id: str, export_id: UUID) -> ExportRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"{_SELECT} WHERE tenant_id = ? AND export_id = ?", (tenant_id, export_id.hex)
            )
            row = c.fetchone()
        return None if row is None else SQLITE_ROWS.from_row(row)
