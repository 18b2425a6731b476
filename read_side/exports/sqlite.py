"""The exports model on SQLite: table `exports` in the read-models file, one column per field
of `ExportRow` (`requested_key` the listing's order, indexed per tenant); its writer (row
upserts and the checkpoint in one transaction) and its reader."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from read_side.alerts.port import decode_cursor, encode_cursor
from read_side.exports.port import EXPORTS_CURSOR, ExportFilter, ExportsReader, ExportsView
from read_side.exports.row import ExportRow, export_key
from read_side.paging import Page, check_page_size
from read_side.sqlite_row_view import SQLiteRowsView
from read_side.sqlite_rows import SQLiteRowCodec

TABLE = "exports"
SQLITE_ROWS = SQLiteRowCodec(ExportRow)
_SELECT = f"SELECT {', '.join(SQLITE_ROWS.names)} FROM {TABLE}"  # noqa: S608 - constants
_INDEX = f"CREATE INDEX IF NOT EXISTS exports_by_requested ON {TABLE} (tenant_id, requested_key)"


class SQLiteExportsView(SQLiteRowsView[ExportRow], ExportsView):
    """Build with `app.factory.tracking_recorder(SQLiteExportsView)` to share the store's file."""

    TABLE, ROWS, KEY = TABLE, SQLITE_ROWS, ("tenant_id", "export_id")

    def _create_table(self, c: SQLiteCursor) -> None:
        """The table and its listing index; when the column is new to a table made before it,
        the rows already there get their key (made from their fields, as every row makes
        it): a scan once, not at every start."""
        c.execute(f"PRAGMA table_info({TABLE})")
        had = {row["name"] for row in c.fetchall()}
        super()._create_table(c)
        c.execute(_INDEX)
        if not had or "requested_key" in had:
            return
        c.execute(f"{_SELECT} WHERE requested_key IS NULL OR requested_key = ''")
        keyed = [(export_key(row), row.tenant_id, row.export_id.hex)
                 for row in map(SQLITE_ROWS.from_row, c.fetchall())]  # fmt: skip
        c.executemany(
            f"UPDATE {TABLE} SET requested_key = ? WHERE tenant_id = ? AND export_id = ?",  # noqa: S608
            keyed,
        )


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

    def exports(
        self, tenant_id: str, criteria: ExportFilter, first: int, after: str | None
    ) -> Page[ExportRow]:
        check_page_size(first)
        where, args = "tenant_id = ?", [tenant_id]
        if after is not None:
            where, args = (
                where + " AND requested_key < ?",
                [*args, decode_cursor(EXPORTS_CURSOR, after)],
            )
        for column in ("kind", "status"):
            if (value := getattr(criteria, column)) is not None:
                where, args = f"{where} AND {column} = ?", [*args, value]
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"{_SELECT} WHERE {where} ORDER BY requested_key DESC LIMIT ?", [*args, first + 1]
            )
            rows = [SQLITE_ROWS.from_row(row) for row in c.fetchall()]
        more = len(rows) > first
        rows = rows[:first]
        cursor = encode_cursor(EXPORTS_CURSOR, rows[-1].requested_key) if more else None
        return Page(rows, cursor)
