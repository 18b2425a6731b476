"""The DynamoDB item codec of a read model's row type, derived from its fields
(`read_side.columns`), shared by each model's DynamoDB writer and reader (`device_status.dynamodb`,
`users.dynamodb`).

Low-level (client) attribute values, by declared type (`_WRITE`, `_READ`): text, UUIDs (hex)
and times (ISO) as S, integers as N, booleans as BOOL, sequences as L, mappings and nested rows
as M of their items. Floats are S (Python's repr, exact), since a value such as `1e-200` that
ingestion accepts is out of DynamoDB's number range; items written as N before still read.
With `json_containers` a container is instead S holding its JSON (as in SQLite), which also
takes `Any` values. An attribute is left out when its value is None, or an empty container of a
field with a default (both read back as the default, or None for a field `X | None` without one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from read_side.columns import (
    FROM_PLAIN,
    TO_PLAIN,
    Column,
    Converter,
    Forms,
    columns,
    dumps,
    enum_type,
    unwrap,
)

Attribute = dict[str, Any]
Row = TypeVar("Row")

_WRITE = Forms(
    {
        str: lambda v: {"S": v},
        int: lambda v: {"N": str(v)},
        float: lambda v: {"S": repr(float(v))},
        bool: lambda v: {"BOOL": v},
        datetime: lambda v: {"S": v.isoformat()},
        UUID: lambda v: {"S": v.hex},
    },
    lambda item, _: lambda v: {"L": [item(x) for x in v]},
    lambda value: lambda v: {"M": {k: value(x) for k, x in v.items()}},
    lambda _, parts: lambda v: {"M": {n: write(getattr(v, n)) for n, write in parts.items()}},
)
_READ = Forms(
    {
        str: lambda a: a["S"],
        int: lambda a: int(a["N"]),
        float: lambda a: float(a.get("S") or a["N"]),
        bool: lambda a: a["BOOL"],
        datetime: lambda a: datetime.fromisoformat(a["S"]),
        UUID: lambda a: UUID(hex=a["S"]),
    },
    lambda item, kind: lambda a: kind(item(x) for x in a["L"]),
    lambda value: lambda a: {k: value(x) for k, x in a["M"].items()},
    lambda cls, parts: lambda a: cls(**{n: read(a["M"][n]) for n, read in parts.items()}),
    reading=True,
)


class DynamoDBItemCodec(Generic[Row]):
    """The rows of `row_type` as DynamoDB items, and back."""

    def __init__(self, row_type: type[Row], *, json_containers: bool = False) -> None:
        self.row_type = row_type
        found = columns(row_type)
        self._writers = [
            (c.name, c.value, _converters(c, json_containers)[0], not c.required) for c in found
        ]
        self._readers = [
            (c.name, _converters(c, json_containers)[1], c.split, c.required) for c in found
        ]

    def to_item(self, row: Row) -> dict[str, Attribute]:
        """The low-level (client) item of a row."""
        item: dict[str, Attribute] = {}
        for name, value_of, write, optional in self._writers:
            value = value_of(row)
            if value is None or (optional and _empty(value)):
                continue  # read back as the field's default
            item[name] = write(value)
        return item

    def from_item(self, item: dict[str, Attribute]) -> Row:
        values: dict[str, Any] = {}
        for name, read, split, required in self._readers:
            if name not in item:
                if required:  # a field `X | None` without a default
                    values[name] = None
                continue  # the field's default
            if split is None:
                values[name] = read(item[name])
            else:
                values.update(split(read(item[name])))
        return self.row_type(**values)


def _converters(column: Column, json_containers: bool) -> tuple[Converter, Converter]:
    """The column's writer and reader of attribute values."""
    scalar = unwrap(column.hint)[0] in _WRITE.scalars or enum_type(column.hint) is not None
    if json_containers and not scalar:
        plain, value = TO_PLAIN.converter(column.hint), FROM_PLAIN.converter(column.hint)
        return (
            lambda v: {"S": dumps(plain(v))},
            lambda a: value(column.loads(a["S"])),
        )
    return _WRITE.converter(column.hint), _READ.converter(column.hint)


def _empty(value: Any) -> bool:
    return isinstance(value, dict | tuple | list) and not value
