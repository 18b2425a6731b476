"""The exports model on SQLite: table `exports` in the read-models file, one column per field
of `ExportRow`; its writer (row upserts and the checkpoint in one transaction) and its reader."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from read_side.exports.port import ExportsReader, ExportsView
from read_side.exports.row import ExportRow
from read_side.sqlite_row_view import SQLiteRowsView
from read_side.sqlite_rows import SQLiteRowCodec

TABLE = "exports"
SQLITE_ROWS = SQLiteRowCodec(ExportRow)
_SELECT = f"SELECT {', '.join(SQLITE_ROWS.names)} FROM {TABLE}"  # noqa: S608 - constants


class SQLiteExportsView(SQLiteRowsView[ExportRow], ExportsView):
    """Build with `app.factory.tracking_recorder(SQLiteExportsView)` to share the store's file."""

    TABLE, ROWS, KEY = TABLE, SQLITE_ROWS, ("tenant_id", "export_id")


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
