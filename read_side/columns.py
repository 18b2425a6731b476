"""The stored forms of a read model's rows, derived from the row's one definition (a dataclass).

Issue 11: a row's fields are listed once, in its dataclass. The SQLite row codec
(`read_side.sqlite_rows`), the DynamoDB item codec (`read_side.dynamodb_items`) and the JSON
codec of change notices and whole-row records (`JsonCodec`) walk `dataclasses.fields` with the
declared types, so a field added to a row is stored and read back by both stores, and carried
by the notices, with no other edit. A type none of them knows fails when the codecs are built
(at import), not when a row is written.

Shared here: the columns (one per field, but see `stored_with`) and the JSON-ready ("plain")
form of a value: datetimes as ISO text, UUIDs as text, tuples as lists, mappings with text keys,
a nested row dataclass as a mapping of its fields, `Any` as it is. What each store does with a
scalar type is its own small table, in its codec.

A field a row gains later needs a default: rows written before it have no value for it, and a
stored NULL (SQLite) or a missing attribute (DynamoDB) reads as the field's default. A field of
type `X | None` without a default reads either as None.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import orjson

Converter = Callable[[Any], Any]
Row = TypeVar("Row")
# Field metadata (`dataclasses.field(metadata=...)`) read by the codecs.
STORED_WITH = "stored_with"  # a mapping field kept in the column of another: see `_paired`
EXACT_JSON = "exact_json"  # free-form JSON that may hold integers beyond 64 bits


def stored_with(carrier: str) -> dict[str, str]:
    """Field metadata: this mapping field has no column of its own; it is stored in the column
    of the mapping field `carrier`, keyed alike, as `{key: [carrier's value, this one's or
    null]}` (the layout the device-status row's first release gave two of its fields)."""
    return {STORED_WITH: carrier}


def dumps(value: Any) -> str:
    """Plain `value` as JSON text, keys sorted (orjson; the stdlib where orjson refuses a value,
    e.g. an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, sort_keys=True)


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


@dataclass(frozen=True)
class Forms:
    """How one stored form writes (or reads) values: `scalars` has a converter per scalar type;
    `sequence`, `mapping` and `record` build a container's from its items' (with the container
    type), its values', and a nested row dataclass's from its fields' (with the class)."""

    scalars: Mapping[Any, Converter]
    sequence: Callable[[Converter, type], Converter]
    mapping: Callable[[Converter], Converter]
    record: Callable[[type, dict[str, Converter]], Converter]
    reading: bool = False  # an enum (a `StrEnum`) is read back as its member, written as text

    def converter(self, hint: Any) -> Converter:
        """The converter of values of type `hint`; a value that may be None passes as None."""
        base, optional = unwrap(hint)
        origin, args = get_origin(base), get_args(base)
        convert: Converter
        if base in self.scalars:
            convert = self.scalars[base]
        elif (enum := enum_type(base)) is not None:
            text = self.scalars[str]
            convert = (lambda v: enum(text(v))) if self.reading else (lambda v: text(str(v)))
        elif origin in (tuple, list) and args and args[-1] in (args[0], Ellipsis):
            convert = self.sequence(self.converter(args[0]), origin)
        elif origin in (dict, Mapping) and args[0] is str:
            convert = self.mapping(self.converter(args[1]))
        elif isinstance(base, type) and dataclasses.is_dataclass(base):
            hints = get_type_hints(base)
            parts = {f.name: self.converter(hints[f.name]) for f in fields(base)}
            convert = self.record(base, parts)
        else:
            raise TypeError(f"no stored form for {hint!r}")
        return _nullable(convert) if optional and convert is not same else convert


def enum_type(hint: Any) -> type[StrEnum] | None:
    """The `StrEnum` class `hint` names (optional or not), if it names one: stored as text."""
    base, _ = unwrap(hint)
    return base if isinstance(base, type) and issubclass(base, StrEnum) else None


def _sequence(item: Converter, kind: type) -> Converter:
    return kind if item is same else (lambda v: kind(item(x) for x in v))


def _mapping(value: Converter) -> Converter:
    return dict if value is same else (lambda v: {k: value(x) for k, x in v.items()})


_PLAIN_SCALARS: dict[Any, Converter] = {
    str: same,
    int: same,
    float: same,
    bool: same,
    datetime: datetime.isoformat,
    UUID: str,
    Any: same,
    object: same,
}
TO_PLAIN = Forms(
    _PLAIN_SCALARS,
    lambda item, _: _sequence(item, list),
    _mapping,
    lambda _, parts: lambda v: {n: convert(getattr(v, n)) for n, convert in parts.items()},
)
FROM_PLAIN = Forms(
    {
        **_PLAIN_SCALARS,
        float: float,  # JSON writes 21.0 as 21
        datetime: datetime.fromisoformat,
        UUID: lambda text: UUID(str(text)),
    },
    _sequence,
    _mapping,
    lambda cls, parts: (
        lambda v: cls(**{n: convert(v[n]) for n, convert in parts.items() if n in v})
    ),
    reading=True,
)


@dataclass(frozen=True)
class Column:
    """One stored column (a SQLite column, a DynamoDB attribute) of a row type."""

    name: str
    hint: Any  # the type of `value(row)`: the field's, or text for a paired column
    required: bool  # its field has no default (a stored nothing reads as None)
    default: Any  # its field's default, None when it has none or a factory
    value: Converter  # row -> the stored value, None for nothing
    # A stored value (not None) -> the values of the fields it holds; None: its one field's.
    split: Callable[[Any], Mapping[str, Any]] | None = None
    exact: bool = False  # free-form JSON: see `EXACT_JSON`

    def loads(self, text: str) -> Any:
        """The plain value of the JSON text stored for this column."""
        return json.loads(text) if self.exact else orjson.loads(text)

    @property
    def nullable(self) -> bool:
        """Whether the column may hold nothing: its field has a default or may be None."""
        return not self.required or unwrap(self.hint)[1]


def columns(row_type: type) -> list[Column]:
    """The columns of `row_type`, in the order of its fields."""
    hints = get_type_hints(row_type)
    riders = {f.metadata[STORED_WITH]: f for f in fields(row_type) if STORED_WITH in f.metadata}
    found: list[Column] = []
    for f in fields(row_type):
        if STORED_WITH in f.metadata:
            continue
        if f.name in riders:
            rider = riders[f.name].name
            found.append(_paired(f.name, hints[f.name], rider, hints[rider]))
            continue
        found.append(
            Column(
                name=f.name,
                hint=hints[f.name],
                required=f.default is MISSING and f.default_factory is MISSING,
                default=None if f.default is MISSING else f.default,
                value=attrgetter(f.name),
                exact=bool(f.metadata.get(EXACT_JSON)),
            )
        )
    return found


def _paired(carrier: str, carrier_hint: Any, rider: str, rider_hint: Any) -> Column:
    """`carrier` and `rider`, two mappings, as JSON text of `{key: [carrier's, rider's]}`;
    None when `carrier` is empty, and a key missing from `rider` as null."""
    first, second = (TO_PLAIN.converter(get_args(h)[1] | None) for h in (carrier_hint, rider_hint))
    read_first, read_second = (
        FROM_PLAIN.converter(get_args(h)[1]) for h in (carrier_hint, rider_hint)
    )

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
    """Rows of `row_type` as JSON-ready dicts of all their fields (change notices, rows kept
    whole as JSON), and back."""

    def __init__(self, row_type: type[Row]) -> None:
        self.row_type = row_type
        hints = get_type_hints(row_type)
        found = fields(row_type)  # type: ignore[arg-type]
        self._to = [(f.name, TO_PLAIN.converter(hints[f.name])) for f in found]
        self._from = [
            (
                f.name,
                FROM_PLAIN.converter(hints[f.name]),
                f.default is MISSING and f.default_factory is MISSING,
            )
            for f in found
        ]

    def to_json(self, row: Row) -> dict[str, Any]:
        return {name: convert(getattr(row, name)) for name, convert in self._to}

    def from_json(self, data: Mapping[str, Any]) -> Row:
        """The row `to_json` gave `data` for; a field missing or null keeps its default (a
        field without one is None); names that are no field are ignored."""
        values: dict[str, Any] = {}
        for name, convert, required in self._from:
            if (value := data.get(name)) is not None:
                values[name] = convert(value)
            elif required:
                values[name] = None
        return self.row_type(**values)
