"""The device-status model on SQLite (the embedded default): the table, its writer (the view:
one SQLite transaction per change holds the row upserts, the alert links and the checkpoint)
and its reader (read-only transactions), side by side so the table's SQL lives in one place."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.device_status import alert_links as links
from read_side.device_status.columns import SQLITE_ROWS
from read_side.device_status.port import (
    AlertLinks,
    DeviceFilter,
    DeviceStatusReader,
    DeviceStatusView,
    decode_cursor,
    encode_cursor,
)
from read_side.device_status.row import DeviceStatus
from read_side.paging import Page, check_page_size

DEVICE_STATUS_TABLE = "device_status"
_IN_CHUNK = 500  # bound parameters per IN list (SQLite's limit is 999 on old builds)
_SELECT = f"SELECT {', '.join(SQLITE_ROWS.names)} FROM {DEVICE_STATUS_TABLE}"  # noqa: S608
_CASEFOLD = "fleetwatch_casefold"  # `nameContains` folds case as `DeviceFilter.matches` does
_UPSERT = SQLITE_ROWS.upsert(DEVICE_STATUS_TABLE)
_ONLINE_PAGE = 1000


class SQLiteDeviceStatusView(SQLiteTrackingRecorder, DeviceStatusView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            SQLITE_ROWS.create_table(DEVICE_STATUS_TABLE, ("tenant_id", "device_id")),
            f"CREATE INDEX IF NOT EXISTS {DEVICE_STATUS_TABLE}_type "
            f"ON {DEVICE_STATUS_TABLE} (tenant_id, device_type, device_id)",
            links.CREATE_SQLITE,
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        """The table as the row's fields define it; a file made before a field was added gets
        its column."""
        super()._create_table(c)
        SQLITE_ROWS.add_missing_columns(c, DEVICE_STATUS_TABLE)

    def save_many(
        self,
        rows: Sequence[DeviceStatus],
        tracking: Tracking,
        alert_links: AlertLinks | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_UPSERT, [SQLITE_ROWS.to_row(status) for status in rows])
            links.sqlite_write(c, alert_links)

    def alert_devices(self, tenant_id: str, alert_ids: Sequence[str]) -> dict[str, UUID]:
        return links.sqlite_read(self.datastore, tenant_id, alert_ids)

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {DEVICE_STATUS_TABLE}")  # noqa: S608 - constant name
            c.execute(f"DELETE FROM {links.TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


class SQLiteDeviceStatusReader(DeviceStatusReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def get(self, tenant_id: str, device_id: UUID) -> DeviceStatus | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"{_SELECT} WHERE tenant_id = ? AND device_id = ?", (tenant_id, device_id.hex)
            )
            row = c.fetchone()
        return SQLITE_ROWS.from_row(row) if row is not None else None

    def get_many(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceStatus]:
        """One query per `_IN_CHUNK` devices (one for any projection batch of a normal fleet)."""
        hexes = list(dict.fromkeys(device_id.hex for device_id in device_ids))
        found: dict[UUID, DeviceStatus] = {}
        if not hexes:
            return found
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(hexes), _IN_CHUNK):
                chunk = hexes[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                c.execute(
                    f"{_SELECT} WHERE tenant_id = ? AND device_id IN ({marks})",
                    (tenant_id, *chunk),
                )
                for row in c.fetchall():
                    status = SQLITE_ROWS.from_row(row)
                    found[status.device_id] = status
        return found

    def list(
        self, tenant_id: str, device_filter: DeviceFilter, first: int, after: str | None
    ) -> Page[DeviceStatus]:
        check_page_size(first)
        clauses = ["tenant_id = ?"]
        params: list[Any] = [tenant_id]
        if after is not None:
            clauses.append("device_id > ?")
            params.append(decode_cursor(after).hex)
        if device_filter.lifecycle is not None:
            clauses.append("lifecycle = ?")
            params.append(device_filter.lifecycle)
        if device_filter.device_type is not None:
            clauses.append("device_type = ?")
            params.append(device_filter.device_type)
        if device_filter.tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(tags) WHERE json_each.value = ?)")
            params.append(device_filter.tag)
        if device_filter.name_contains is not None:
            # SQLite's lower() folds A-Z only: "Ölpumpe" would not contain "öl".
            clauses.append(f"instr({_CASEFOLD}(name), ?) > 0")
            params.append(device_filter.name_contains.casefold())
        params.append(first + 1)
        statement = f"{_SELECT} WHERE {' AND '.join(clauses)} ORDER BY device_id LIMIT ?"
        with self.datastore.transaction(commit=False) as c:
            if device_filter.name_contains is not None:
                c.sqlite_cursor.connection.create_function(
                    _CASEFOLD, 1, _casefold, deterministic=True
                )
            c.execute(statement, params)
            rows = c.fetchall()
        items = [SQLITE_ROWS.from_row(row) for row in rows[:first]]
        more = len(rows) > first
        return Page(items, encode_cursor(items[-1].device_id) if more and items else None)

    def online(self) -> Iterator[DeviceStatus]:
        """Keyset pages of `_ONLINE_PAGE` rows, each its own read."""
        after = ("", "")
        while True:
            with self.datastore.transaction(commit=False) as c:
                c.execute(
                    f"{_SELECT} WHERE online = 1 AND (tenant_id, device_id) > (?, ?) "
                    "ORDER BY tenant_id, device_id LIMIT ?",
                    (*after, _ONLINE_PAGE),
                )
                rows = [SQLITE_ROWS.from_row(row) for row in c.fetchall()]
            yield from rows
            if len(rows) < _ONLINE_PAGE:
                return
            after = (rows[-1].tenant_id, rows[-1].device_id.hex)
