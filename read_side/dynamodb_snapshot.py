"""A read model's rows with its checkpoint, on DynamoDB (docs/audit.md section 19.6): its
tables (the view's `construct_extra_tables`) scanned with consistent reads between two reads of
its tracking item, again while the two differ (a busy worker); the rows unordered (a scan has
no order: the caller sorts them).

Generic over the models: a table's key is its KeySchema; a row's key is the table's name
without the prefix, then its key attributes (numbers as int or float, binary as bytes); each
attribute a field, as the canonical JSON of its low-level form (sets sorted).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from event_store.dynamodb.client import get_n

Scalar = str | int | float | bytes | None
Row = tuple[tuple[Scalar, ...], dict[str, Scalar]]


class CheckpointMoving(RuntimeError):
    """The tracking item moved during every scan tried."""


def snapshot(view: Any, tracking_name: str, attempts: int = 10) -> tuple[int, list[Row]]:
    """The checkpoint of `tracking_name` (0: none) and the rows of `view`'s tables at it."""
    for _ in range(attempts):
        before = checkpoint(view, tracking_name)
        rows = [row for spec in view.construct_extra_tables() for row in _scan(view, spec)]
        if checkpoint(view, tracking_name) == before:
            return before, rows
    raise CheckpointMoving(f"{tracking_name}: checkpoint moved during {attempts} scans")


def checkpoint(view: Any, tracking_name: str) -> int:
    item = view.client.get_item(
        TableName=view.tracking_table_name,
        Key=view.keys.tracking(tracking_name),
        ConsistentRead=True,
    ).get("Item")
    return (get_n(item, "n") or 0) if item else 0


def _scan(view: Any, spec: dict[str, Any]) -> list[Row]:
    table = str(spec["TableName"])
    name = table.removeprefix(view.table_prefix)
    key = [str(part["AttributeName"]) for part in spec["KeySchema"]]
    rows: list[Row] = []
    for page in view.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            fields: dict[str, Scalar] = {
                attribute: _canonical(value) for attribute, value in item.items()
            }
            rows.append(((name, *(_key_part(item[k]) for k in key)), fields))
    return rows


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
