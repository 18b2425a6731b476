"""Row dataclasses as JSON records and back: change notices' data and the rows stored as JSON.

A codec, not a model: any row dataclass goes out with UUIDs as text and times in ISO 8601 (sets
and tuples as sorted lists) and comes back typed from its field annotations. Both alert tables'
adapters keep each row whole in this form; the package re-exports these names, so
`from read_side.alerts import dumps` works.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, get_type_hints
from uuid import UUID

R = TypeVar("R")


def to_record(row: object) -> dict[str, Any]:
    """A JSON-ready dict of a row dataclass (UUIDs as text, times in ISO 8601)."""
    return {f.name: _jsonable(getattr(row, f.name)) for f in dataclasses.fields(row)}  # type: ignore[arg-type]


def from_record(cls: type[R], record: Mapping[str, Any]) -> R:
    """The row of type `cls` from `to_record`'s output."""
    kinds = _field_kinds(cls)  # type: ignore[arg-type]
    return cls(**{name: _revive(kinds[name], v) for name, v in record.items() if name in kinds})


def dumps(row: object) -> str:
    return json.dumps(to_record(row), separators=(",", ":"), sort_keys=True)


def loads(cls: type[R], text: str) -> R:
    return from_record(cls, json.loads(text))


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set | tuple):
        return sorted(value)
    return value


@cache
def _field_kinds(cls: type) -> dict[str, str]:
    hints = get_type_hints(cls)
    return {
        f.name: "uuid"
        if "UUID" in str(hints[f.name])
        else "time"
        if "datetime" in str(hints[f.name])
        else "plain"
        for f in dataclasses.fields(cls)
    }


def _revive(kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    return UUID(str(value)) if kind == "uuid" else datetime.fromisoformat(str(value))
