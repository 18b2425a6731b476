"""The SQLite row codec of a read model's row type, derived from its fields (`read_side.columns`):
the column definitions of its table, and its rows as parameters and back, shared by each model's
SQLite writer and reader (`device_status.sqlite`, `users.sqlite`).

A scalar is a column of its own SQL type (`_SCALARS`: UUIDs as hex text, times as ISO text,
booleans as 0/1); a container (or a nested row) is a JSON text column. JSON is written and read
with orjson (a device-status row is rewritten for every event of its device: at one message per
event the stdlib codec was a sixth of the projection's time), except where free-form JSON may
hold an integer beyond 64 bits: orjson refuses to write one (the stdlib encoder then does) and
reads one as a float, so a field marked `EXACT_JSON` is read by the stdlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor

from read_side.columns import (
    FROM_PLAIN,
    TO_PLAIN,
    Column,
    Converter,
    columns,
    dumps,
    enum_type,
    same,
    unwrap,
)

# type -> (SQL type, write, read)
_SCALARS: dict[Any, tuple[str, Converter, Converter]] = {
    str: ("TEXT", same, same),
    int: ("INTEGER", same, same),
    float: ("REAL", same, float),
    bool: ("INTEGER", int, bool),
    datetime: ("TEXT", datetime.isoformat, datetime.fromisoformat),
    UUID: ("TEXT", lambda value: value.hex, lambda text: UUID(hex=text)),
}
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
            (column.name, None if read is same else read, column.split, column.required)
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

    def create_table(self, table: str, key: Sequence[str]) -> str:
        """The table of these rows, keyed by the columns `key`."""
        return (
            f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(self.definitions())}, "
            f"PRIMARY KEY ({', '.join(key)})) WITHOUT ROWID"
        )

    def add_missing_columns(self, c: SQLiteCursor, table: str) -> None:
        """Give a table made before a field was added its column (`definitions` says why that
        can be done); the rows already there read that field as its default."""
        c.execute(f"PRAGMA table_info({table})")
        existing = {row["name"] for row in c.fetchall()}
        for name, definition in zip(self.names, self.definitions(), strict=True):
            if name not in existing:
                c.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")

    def upsert(self, table: str) -> str:
        """The statement writing a row's parameters (`to_row`) over the one of the same key."""
        return (
            f"INSERT OR REPLACE INTO {table} ({', '.join(self.names)}) "  # noqa: S608 - names
            f"VALUES ({', '.join('?' for _ in self.names)})"
        )

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
        for name, read, split, required in self._readers:
            if (stored := row[name]) is None:
                if required:  # a field `X | None` without a default
                    values[name] = None
                continue  # the field's default
            value = stored if read is None else read(stored)
            if split is None:
                values[name] = value
            else:
                values.update(split(value))
        return self.row_type(**values)


def _codec(column: Column) -> tuple[str, Converter, Converter]:
    base, _ = unwrap(column.hint)
    if base in _SCALARS:
        return _SCALARS[base]
    if (enum := enum_type(base)) is not None:
        return "TEXT", str, enum
    plain, value = TO_PLAIN.converter(column.hint), FROM_PLAIN.converter(column.hint)
    return "TEXT", lambda v: dumps(plain(v)), lambda text: value(column.loads(text))


def _definition(column: Column, sql_type: str) -> str:
    if not column.nullable:
        return f"{column.name} {sql_type} NOT NULL"
    if column.default is None:
        return f"{column.name} {sql_type}"
    stored = _codec(column)[1](column.default)
    return f"{column.name} {sql_type} NOT NULL DEFAULT {_literal(stored)}"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
