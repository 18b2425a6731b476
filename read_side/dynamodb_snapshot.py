"""A read model's rows with its checkpoint, on DynamoDB (docs/audit.md section 19.6): its
tables (the view's `construct_extra_tables`) scanned with consistent reads between two reads of
its tracking item, again while the two differ (a busy worker).

A scan has no order, and a comparison walks rows in key order. The rows are spilled as they are
scanned into a scratch SQLite file (`SortedRows`) and read back `ORDER BY` their key: SQLite's
order of values (NULL < numbers < text < blobs, text by its UTF-8 bytes) is the order the
comparison defines (`audit.replay.order`), and its sorter spills to disk, so memory stays
bounded however large the tables are (the rows used to be sorted in a Python list).

Generic over the models: a table's key is its KeySchema; a row's key is the table's name
without the prefix, then its key attributes (numbers as int or float, binary as bytes); each
attribute a field, as the canonical JSON of its low-level form (sets sorted).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from event_store.dynamodb.client import get_n

Scalar = str | int | float | bytes | None
Row = tuple[tuple[Scalar, ...], dict[str, Scalar]]

_KEY_PARTS = 3  # the table's name, its partition key, its sort key (NULL for a table without)
_INT64 = (-(2**63), 2**63 - 1)


class CheckpointMoving(RuntimeError):
    """The tracking item moved during every scan tried."""


class SortedRows:
    """Rows spilled to a scratch SQLite file (removed on exit) and read back in key order."""

    def __init__(self) -> None:
        self._files = tempfile.TemporaryDirectory(prefix="fleetwatch-rows-")
        self._db = sqlite3.connect(Path(self._files.name) / "rows.sqlite3")
        # Untyped columns keep each value's type, so ORDER BY sorts as `audit.replay.order`.
        self._db.execute("CREATE TABLE rows (k0, k1, k2, parts INTEGER, fields TEXT)")

    def __enter__(self) -> SortedRows:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.close()
        self._files.cleanup()

    def fill(self, view: Any, tracking_name: str, attempts: int = 10) -> int:
        """Scan `view`'s tables into this file at one checkpoint of `tracking_name` (0: none),
        again while it moved during the scan; that checkpoint."""
        for _ in range(attempts):
            before = checkpoint(view, tracking_name)
            with self._db:
                self._db.execute("DELETE FROM rows")
                for spec in view.construct_extra_tables():
                    self.add(_scan(view, spec))
            if checkpoint(view, tracking_name) == before:
                return before
        raise CheckpointMoving(f"{tracking_name}: checkpoint moved during {attempts} scans")

    def add(self, rows: Iterable[Row]) -> None:
        self._db.executemany(
            "INSERT INTO rows VALUES (?, ?, ?, ?, ?)",
            (
                (*_padded(key), len(key), json.dumps(fields, separators=(",", ":")))
                for key, fields in rows
            ),
        )

    def rows(self) -> Iterator[Row]:
        """The rows in key order, one at a time."""
        cursor = self._db.execute("SELECT * FROM rows ORDER BY k0, k1, k2")
        for *key, parts, fields in cursor:
            yield tuple(key[:parts]), json.loads(fields)


def _padded(key: tuple[Scalar, ...]) -> list[Scalar]:
    if len(key) > _KEY_PARTS:
        raise ValueError(f"a key of {len(key)} parts: {key!r}")
    # An integer beyond SQLite's 64 bits (DynamoDB keeps 38 digits) is compared as a float.
    parts = [float(p) if isinstance(p, int) and not _INT64[0] <= p <= _INT64[1] else p for p in key]
    return parts + [None] * (_KEY_PARTS - len(key))


def checkpoint(view: Any, tracking_name: str) -> int:
    item = view.client.get_item(
        TableName=view.tracking_table_name,
        Key=view.keys.tracking(tracking_name),
        ConsistentRead=True,
    ).get("Item")
    return (get_n(item, "n") or 0) if item else 0


def _scan(view: Any, spec: dict[str, Any]) -> Iterator[Row]:
    """The table's rows, a scan page at a time."""
    table = str(spec["TableName"])
    name = table.removeprefix(view.table_prefix)
    key = [str(part["AttributeName"]) for part in spec["KeySchema"]]
    for page in view.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            fields: dict[str, Scalar] = {
                attribute: _canonical(value) for attribute, value in item.items()
            }
            yield (name, *(_key_part(item[k]) for k in key)), fields


def _key_part(value: dict[str, Any]) -> Scalar:
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        number = Decimal(value["N"])
        return int(number) if number == number.to_integral_value() else float(number)
    return bytes(value["B"])


def _canonical(value: Any) -> str:
    return json.dumps(_sorted_sets(value), sort_keys=True, separators=(",", ":"), default=_hex)


def _sorted_sets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            kind: sorted(inner, key=repr) if kind in ("SS", "NS", "BS") else _sorted_sets(inner)
            for kind, inner in value.items()
        }
    if isinstance(value, list):
        return [_sorted_sets(inner) for inner in value]
    return value


def _hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "hex:" + bytes(value).hex()
    raise TypeError(f"not JSON: {type(value).__name__}")
