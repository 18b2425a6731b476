"""The stored form of the device-status row, derived from its one definition (`row.DeviceStatus`).

Issue 11: the row's fields are listed once, in the dataclass. The SQLite row codec
(`sqlite_rows`), the DynamoDB item codec (`dynamodb_items`) and the change notices' JSON
(`JsonCodec`) walk `dataclasses.fields` with the declared types,
so a field added to the row is stored and read back by both stores, and carried by the notices,
with no other edit. A type none of them knows fails when the codecs are built (at import), not
when a row is written.

Shared here: the columns (one per field, but see `PAIRED`) and the JSON-ready ("plain") form of a
value: datetimes as ISO text, UUIDs as text, tuples as lists, mappings with text keys, `Any`
as it is. What each store does with a scalar type is its own small table, in its codec.

A field added later needs a default: rows written before it have no value for it, and a stored
NULL (SQLite) or a missing attribute (DynamoDB) reads as the field's default.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import orjson

from read_side.device_status.row import DeviceStatus

Converter = Callable[[Any], Any]
Row = TypeVar("Row")

# A mapping field with no column of its own, stored in the column of another mapping keyed
# alike as `{key: [value, its value or null]}`: the layout the first release gave the device's
# last values and their device times, kept so that existing tables read as they are.
PAIRED = {"last_values_at": "last_values"}


def same(value: Any) -> Any:
    return value


def unwrap(hint: Any) -> tuple[Any, bool]:
    """The declared type without `| None` (a `Literal` as the type of its values), and whether
    None is allowed."""
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        rest = [arg for arg in get_args(hint) if arg is not type(None)]
        optional = len(rest) < len(get_args(hint))
        if len(rest) != 1:
            raise TypeError(f"no stored form for {hint!r}")
        hint = rest[0]
    if get_origin(hint) is Literal:
        hint = type(get_args(hint)[0])
    return hint, optional


def _nullable(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


def converter(
    hint: Any,
    scalars: Mapping[Any, Converter],
    sequence: Callable[[Converter, type], Converter],
    mapping: Callable[[Converter], Converter],
) -> Converter:
    """A converter of values of type `hint`: `scalars` has one per scalar type, `sequence` and
    `mapping` build a container's from its items' (and the container type). A value that may be
    None passes as None."""
    base, optional = unwrap(hint)
    origin, args = get_origin(base), get_args(base)
    convert: Converter
    if base in scalars:
        convert = scalars[base]
    elif origin in (tuple, list) and args and args[-1] in (args[0], Ellipsis):
        convert = sequence(converter(args[0], scalars, sequence, mapping), origin)
    elif origin is dict and args[0] is str:
        convert = mapping(converter(args[1], scalars, sequence, mapping))
    else:
        raise TypeError(f"no stored form for {hint!r}")
    return _nullable(convert) if optional and convert is not same else convert


_TO_PLAIN: dict[Any, Converter] = {
    str: same,
    int: same,
    float: same,
    bool: same,
    datetime: datetime.isoformat,
    UUID: str,
    Any: same,
    object: same,
}
_FROM_PLAIN: dict[Any, Converter] = {
    **_TO_PLAIN,
    float: float,  # JSON writes 21.0 as 21
    datetime: datetime.fromisoformat,
    UUID: lambda text: UUID(str(text)),
}


def _sequence(item: Converter, kind: type) -> Converter:
    return kind if item is same else (lambda v: kind(item(x) for x in v))


def _mapping(value: Converter) -> Converter:
    return dict if value is same else (lambda v: {k: value(x) for k, x in v.items()})


def to_plain(hint: Any) -> Converter:
    """The converter of a value of type `hint` to its JSON-ready form (a new container)."""
    return converter(hint, _TO_PLAIN, lambda item, _: _sequence(item, list), _mapping)


def from_plain(hint: Any) -> Converter:
    """The inverse of `to_plain(hint)`."""
    return converter(hint, _FROM_PLAIN, _sequence, _mapping)


@dataclass(frozen=True)
class Column:
    """One stored column (a SQLite column, a DynamoDB attribute) of a row type."""

    name: str
    hint: Any  # the type of `value(row)`: the field's, or text for a paired column
    required: bool  # its field has no default
    default: Any  # its field's default, None when it has none or a factory
    value: Converter  # row -> the stored value, None for nothing
    # A stored value (not None) -> the values of the fields it holds; None: its one field's.
    split: Callable[[Any], Mapping[str, Any]] | None = None


def columns(row_type: type) -> list[Column]:
    """The columns of `row_type`, in the order of its fields."""
    hints = get_type_hints(row_type)
    carriers = {carrier: rider for rider, carrier in PAIRED.items()}
    found: list[Column] = []
    for f in fields(row_type):
        if f.name in PAIRED:
            continue
        if f.name in carriers:
            found.append(_paired(f.name, hints[f.name], carriers[f.name], hints[carriers[f.name]]))
            continue
        found.append(
            Column(
                name=f.name,
                hint=hints[f.name],
                required=f.default is MISSING and f.default_factory is MISSING,
                default=None if f.default is MISSING else f.default,
                value=attrgetter(f.name),
            )
        )
    return found


def _paired(carrier: str, carrier_hint: Any, rider: str, rider_hint: Any) -> Column:
    """`carrier` and `rider`, two mappings, as JSON text of `{key: [carrier's, rider's]}`;
    None when `carrier` is empty, and a key missing from `rider` as null."""
    first, second = (to_plain(get_args(h)[1] | None) for h in (carrier_hint, rider_hint))
    read_first, read_second = (from_plain(get_args(h)[1]) for h in (carrier_hint, rider_hint))

    def value(row: Any) -> str | None:
        values, others = getattr(row, carrier), getattr(row, rider)
        if not values:
            return None
        pairs = {k: [first(v), second(others.get(k))] for k, v in values.items()}
        return orjson.dumps(pairs).decode()

    def split(text: str) -> dict[str, Any]:
        pairs: dict[str, list[Any]] = orjson.loads(text)
        return {
            carrier: {k: read_first(v) for k, (v, _) in pairs.items()},
            rider: {k: read_second(o) for k, (_, o) in pairs.items() if o is not None},
        }

    return Column(carrier, str | None, False, None, value, split)


class JsonCodec(Generic[Row]):
    """Rows of `row_type` as JSON-ready dicts of all their fields (change notices), and back."""

    def __init__(self, row_type: type[Row]) -> None:
        self.row_type = row_type
        hints = get_type_hints(row_type)
        names = [f.name for f in fields(row_type)]  # type: ignore[arg-type]
        self._to = [(name, to_plain(hints[name])) for name in names]
        self._from = [(name, from_plain(hints[name])) for name in names]

    def to_json(self, row: Row) -> dict[str, Any]:
        return {name: convert(getattr(row, name)) for name, convert in self._to}

    def from_json(self, data: Mapping[str, Any]) -> Row:
        """The row `to_json` gave `data` for; a field missing or null keeps its default."""
        values = {n: convert(data[n]) for n, convert in self._from if data.get(n) is not None}
        return self.row_type(**values)


STATUS_JSON = JsonCodec(DeviceStatus)
