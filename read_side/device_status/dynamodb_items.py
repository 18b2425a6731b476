"""Item codec of the device-status model on DynamoDB, derived from the row's fields (`columns`),
shared by its writer and its reader (`read_side.device_status.dynamodb`, which also defines the
table).

Low-level (client) attribute values, by declared type (`_WRITE`, `_READ`): text, UUIDs (hex)
and times (ISO) as S, integers as N, booleans as BOOL, sequences as L and mappings as M of their
items. Floats are S (Python's repr, exact), since a value such as `1e-200` that ingestion
accepts is out of DynamoDB's number range; items written as N before still read. An attribute
is left out when its value is None, or an empty container of a field with a default (both read
back as the default). `name_lc`, the case-folded name the `nameContains` filter reads, is not
a field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from read_side.device_status.columns import Converter, columns, converter
from read_side.device_status.row import DeviceStatus

Attribute = dict[str, Any]
Row = TypeVar("Row")

_WRITE: dict[Any, Converter] = {
    str: lambda v: {"S": v},
    int: lambda v: {"N": str(v)},
    float: lambda v: {"S": repr(float(v))},
    bool: lambda v: {"BOOL": v},
    datetime: lambda v: {"S": v.isoformat()},
    UUID: lambda v: {"S": v.hex},
}
_READ: dict[Any, Converter] = {
    str: lambda a: a["S"],
    int: lambda a: int(a["N"]),
    float: lambda a: float(a.get("S") or a["N"]),
    bool: lambda a: a["BOOL"],
    datetime: lambda a: datetime.fromisoformat(a["S"]),
    UUID: lambda a: UUID(hex=a["S"]),
}


def _write(hint: Any) -> Converter:
    return converter(
        hint,
        _WRITE,
        lambda item, _: lambda v: {"L": [item(x) for x in v]},
        lambda value: lambda v: {"M": {k: value(x) for k, x in v.items()}},
    )


def _read(hint: Any) -> Converter:
    return converter(
        hint,
        _READ,
        lambda item, kind: lambda a: kind(item(x) for x in a["L"]),
        lambda value: lambda a: {k: value(x) for k, x in a["M"].items()},
    )


class DynamoDBItemCodec(Generic[Row]):
    """The rows of `row_type` as DynamoDB items, and back."""

    def __init__(self, row_type: type[Row]) -> None:
        self.row_type = row_type
        found = columns(row_type)
        self._writers = [(c.name, c.value, _write(c.hint), not c.required) for c in found]
        self._readers = [(c.name, _read(c.hint), c.split) for c in found]

    def to_item(self, row: Row) -> dict[str, Attribute]:
        item: dict[str, Attribute] = {}
        for name, value_of, write, optional in self._writers:
            value = value_of(row)
            if value is None or (optional and _empty(value)):
                continue  # read back as the field's default
            item[name] = write(value)
        item["name_lc"] = {"S": item["name"]["S"].casefold()}
        return item

    def from_item(self, item: dict[str, Attribute]) -> Row:
        values: dict[str, Any] = {}
        for name, read, split in self._readers:
            if name not in item:
                continue  # the field's default
            if split is None:
                values[name] = read(item[name])
            else:
                values.update(split(read(item[name])))
        return self.row_type(**values)


def _empty(value: Any) -> bool:
    return isinstance(value, dict | tuple | list) and not value


_CODEC = DynamoDBItemCodec(DeviceStatus)


def to_item(status: DeviceStatus) -> dict[str, Attribute]:
    """The low-level (client) item for a row."""
    return _CODEC.to_item(status)


def from_item(item: dict[str, Attribute]) -> DeviceStatus:
    return _CODEC.from_item(item)
