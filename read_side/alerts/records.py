"""The alert rows as JSON records and back: change notices' data and the rows both alert stores
keep whole (`data` / `d`).

The record of a row holds all its fields, derived from its dataclass by `read_side.columns`
(`JsonCodec`: UUIDs as text, times in ISO 8601), so a field added to `AlertRow`, `AlertRuleRow`
or `TimelineEntry` is stored, read back and notified with no other edit; a record written
before the field existed reads it as the field's default. The text is the stdlib's, keys
sorted, so rule definitions with integers beyond 64 bits keep them. The package re-exports
these names, so `from read_side.alerts import dumps` works.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from read_side.columns import JsonCodec

__all__ = ["dumps", "from_record", "loads", "to_record"]

R = TypeVar("R")


_CODECS: dict[type, JsonCodec[Any]] = {}  # built once per row type (a race builds it twice)


def _codec(cls: type[R]) -> JsonCodec[R]:
    codec = _CODECS.get(cls)
    if codec is None:
        codec = _CODECS[cls] = JsonCodec(cls)
    return codec


def to_record(row: object) -> dict[str, Any]:
    """A JSON-ready dict of a row dataclass (UUIDs as text, times in ISO 8601)."""
    return _codec(type(row)).to_json(row)


def from_record(cls: type[R], record: Mapping[str, Any]) -> R:
    """The row of type `cls` from `to_record`'s output."""
    return _codec(cls).from_json(record)


def dumps(row: object) -> str:
    return json.dumps(to_record(row), separators=(",", ":"), sort_keys=True)


def loads(cls: type[R], text: str) -> R:
    return from_record(cls, json.loads(text))
