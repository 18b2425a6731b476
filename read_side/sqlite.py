"""SQLite readers of the read models (the embedded default). Read-only transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from read_side.device_rows import COLUMNS, from_row
from read_side.device_status import (
    DeviceFilter,
    DeviceStatus,
    DeviceStatusReader,
    Page,
    check_page_size,
    decode_cursor,
    encode_cursor,
)

DEVICE_STATUS_TABLE = "device_status"
_IN_CHUNK = 500  # bound parameters per IN list (SQLite's limit is 999 on old builds)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {DEVICE_STATUS_TABLE}"  # noqa: S608 - constants
_CASEFOLD = "fleetwatch_casefold"  # `nameContains` folds case as `DeviceFilter.matches` does


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
        return from_row(row) if row is not None else None

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
                    status = from_row(row)
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
        items = [from_row(row) for row in rows[:first]]
        more = len(rows) > first
        return Page(items, encode_cursor(items[-1].device_id) if more and items else None)
