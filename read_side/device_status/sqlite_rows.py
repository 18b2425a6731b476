"""Row codec and column definitions of the device-status model on SQLite, derived from the row's
fields (`columns`), shared by its SQLite writer and reader (`read_side.device_status.sqlite`).

A scalar is a column of its own SQL type (`_SCALARS`: UUIDs as hex text, times as ISO text,
booleans as 0/1); a container is a JSON text column. JSON is written and read with orjson (a
row is rewritten for every event of its device: at one message per event the stdlib codec was a
sixth of the projection's time), except where free-form metadata may hold an integer beyond 64
bits: orjson refuses to write one (the stdlib encoder then does) and reads one as a float, so
the columns in `_EXACT_JSON` are read by the stdlib.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import orjson

from read_side.device_status.columns import Column, Converter, columns, from_plain, same, to_plain
from read_side.device_status.columns import unwrap as _unwrap
from read_side.device_status.row import DeviceStatus

# type -> (SQL type, write, read)
_SCALARS: dict[Any, tuple[str, Converter, Converter]] = {
    str: ("TEXT", same, same),
    int: ("INTEGER", same, same),
    float: ("REAL", same, float),
    bool: ("INTEGER", int, bool),
    datetime: ("TEXT", datetime.isoformat, datetime.fromisoformat),
    UUID: ("TEXT", lambda value: value.hex, lambda text: UUID(hex=text)),
}
_EXACT_JSON = frozenset({"metadata"})  # free-form: orjson reads big integers as floats
Row = TypeVar("Row")


class SQLiteRowCodec(Generic[Row]):
    """The columns of `row_type` and its rows as SQLite parameters, and back."""

    def __init__(self, row_type: type[Row]) -> None:
        self.row_type = row_type
        self.columns = columns(row_type)
        self.names = tuple(column.name for column in self.columns)
        self._codecs = [_codec(column) for column in self.columns]
        self._writers = [
            (column.value, None if write is same else write)
            for column, (_, write, _) in zip(self.columns, self._codecs, strict=True)
        ]
        self._readers = [
            (column.name, None if read is same else read, column.split)
            for column, (_, _, read) in zip(self.columns, self._codecs, strict=True)
        ]

    def definitions(self) -> list[str]:
        """`name TYPE [NOT NULL [DEFAULT x]]` per column. A field with a default has a nullable
        column (NULL reads as the default) or, for a scalar default, `NOT NULL DEFAULT` it, so
        `ALTER TABLE ... ADD COLUMN` can add it to a table that already has rows."""
        return [
            _definition(column, sql_type)
            for column, (sql_type, _, _) in zip(self.columns, self._codecs, strict=True)
        ]

    def to_row(self, row: Row) -> tuple[Any, ...]:
        """The row's parameters, in the order of `names` (hot: every event rewrites a row)."""
        stored: list[Any] = []
        for value_of, write in self._writers:
            value = value_of(row)
            stored.append(value if value is None or write is None else write(value))
        return tuple(stored)

    def from_row(self, row: Any) -> Row:
        """A row from a SQLite row indexable by column name (sqlite3.Row)."""
        values: dict[str, Any] = {}
        for name, read, split in self._readers:
            if (stored := row[name]) is None:
                continue  # the field's default
            value = stored if read is None else read(stored)
            if split is None:
                values[name] = value
            else:
                values.update(split(value))
        return self.row_type(**values)


def _codec(column: Column) -> tuple[str, Converter, Converter]:
    base, _ = _unwrap(column.hint)
    if base in _SCALARS:
        return _SCALARS[base]
    plain, value = to_plain(column.hint), from_plain(column.hint)
    loads = json.loads if column.name in _EXACT_JSON else orjson.loads
    return "TEXT", lambda v: _dumps(plain(v)), lambda text: value(loads(text))


def _definition(column: Column, sql_type: str) -> str:
    if column.required:
        return f"{column.name} {sql_type} NOT NULL"
    if column.default is None:
        return f"{column.name} {sql_type}"
    stored = _codec(column)[1](column.default)
    return f"{column.name} {sql_type} NOT NULL DEFAULT {_literal(stored)}"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        return json.dumps(value, sort_keys=True)


_CODEC = SQLiteRowCodec(DeviceStatus)
COLUMNS: Sequence[str] = _CODEC.names
COLUMN_DEFINITIONS = _CODEC.definitions()


def to_row(status: DeviceStatus) -> tuple[Any, ...]:
    return _CODEC.to_row(status)


def from_row(row: Any) -> DeviceStatus:
    """A DeviceStatus from a row indexable by column name (sqlite3.Row)."""
    return _CODEC.from_row(row)
