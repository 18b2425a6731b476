"""The firmware model on SQLite, in the read-models file: table `firmware` (one row per release,
one column per field of `FirmwareRow`), `firmware_index` (the listing: one row per release with
scope "" and one per compatible device type, keyed by `release_key`) and `signing_keys` (one
row per tenant, columns of `SigningKeysRow`); the view writes them with the checkpoint in one
transaction, the reader reads them."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.alerts.port import decode_cursor, encode_cursor
from read_side.firmware.port import (
    FIRMWARE_CURSOR,
    FirmwareChanges,
    FirmwareFilter,
    FirmwareReader,
    FirmwareView,
    release_key,
)
from read_side.firmware.row import FirmwareRow, SigningKeysRow
from read_side.paging import Page, check_page_size
from read_side.sqlite_rows import SQLiteRowCodec
from write_side.firmware_states import FirmwareStatus

RELEASES, INDEX, KEYS = "firmware", "firmware_index", "signing_keys"
RELEASE_ROWS = SQLiteRowCodec(FirmwareRow)
KEYS_ROWS = SQLiteRowCodec(SigningKeysRow)
_COLUMNS = ", ".join(f"f.{name}" for name in RELEASE_ROWS.names)
_LIST = (
    f"SELECT {_COLUMNS} FROM {INDEX} i JOIN {RELEASES} f "  # noqa: S608 - constants
    "ON f.tenant_id = i.tenant_id AND f.firmware_id = i.firmware_id "
    "WHERE i.tenant_id = ? AND i.scope = ? AND i.list_key > ?"
)


class SQLiteFirmwareView(SQLiteTrackingRecorder, FirmwareView):
    """Build with `app.factory.tracking_recorder(SQLiteFirmwareView)` to share the store's file."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            RELEASE_ROWS.create_table(RELEASES, ("tenant_id", "firmware_id")),
            f"CREATE TABLE IF NOT EXISTS {INDEX} (tenant_id TEXT NOT NULL, scope TEXT NOT NULL, "
            "list_key TEXT NOT NULL, firmware_id TEXT NOT NULL, "
            "PRIMARY KEY (tenant_id, scope, list_key)) WITHOUT ROWID",
            KEYS_ROWS.create_table(KEYS, ("tenant_id",)),
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        RELEASE_ROWS.add_missing_columns(c, RELEASES)
        KEYS_ROWS.add_missing_columns(c, KEYS)

    def commit(self, changes: FirmwareChanges, tracking: Tracking) -> None:
        """Rows only over older ones (the projection skips what a row absorbed, so a replay
        rewrites nothing: the upsert is plain)."""
        index = [
            (row.tenant_id, scope, release_key(row), row.firmware_id.hex)
            for row in changes.releases
            for scope in ("", *row.device_types)
        ]
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(
                RELEASE_ROWS.upsert(RELEASES), [RELEASE_ROWS.to_row(r) for r in changes.releases]
            )
            c.executemany(f"INSERT OR REPLACE INTO {INDEX} VALUES (?, ?, ?, ?)", index)  # noqa: S608
            c.executemany(KEYS_ROWS.upsert(KEYS), [KEYS_ROWS.to_row(r) for r in changes.keys])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in (RELEASES, INDEX, KEYS):
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - constant names
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


class SQLiteFirmwareReader(FirmwareReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM {RELEASES} f "  # noqa: S608 - constants
                "WHERE tenant_id = ? AND firmware_id = ?",
                (tenant_id, firmware_id.hex),
            )
            row = c.fetchone()
        return None if row is None else RELEASE_ROWS.from_row(row)

    def releases(
        self, tenant_id: str, criteria: FirmwareFilter, first: int, after: str | None
    ) -> Page[FirmwareRow]:
        check_page_size(first)
        low = "" if after is None else decode_cursor(FIRMWARE_CURSOR, after)
        rows = self._list(tenant_id, criteria, low, first + 1)
        if len(rows) > first:
            return Page(rows[:first], encode_cursor(FIRMWARE_CURSOR, release_key(rows[first - 1])))
        return Page(rows)

    def latest(self, tenant_id: str, device_type: str) -> FirmwareRow | None:
        criteria = FirmwareFilter(device_type=device_type, status=FirmwareStatus.AVAILABLE)
        found = self._list(tenant_id, criteria, "", 1)
        return found[0] if found else None

    def signing_keys(self, tenant_id: str) -> SigningKeysRow | None:
        with self.datastore.transaction(commit=False) as c:
            names = ", ".join(KEYS_ROWS.names)
            c.execute(f"SELECT {names} FROM {KEYS} WHERE tenant_id = ?", (tenant_id,))  # noqa: S608
            row = c.fetchone()
        return None if row is None else KEYS_ROWS.from_row(row)

    def _list(
        self, tenant_id: str, criteria: FirmwareFilter, low: str, limit: int
    ) -> list[FirmwareRow]:
        sql, args = _LIST, [tenant_id, criteria.device_type or "", low]
        if criteria.status is not None:
            sql, args = sql + " AND f.status = ?", [*args, criteria.status.value]
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{sql} ORDER BY i.list_key LIMIT ?", (*args, limit))
            rows = c.fetchall()
        return [RELEASE_ROWS.from_row(row) for row in rows]
