"""The DynamoDB alert reader's query plans (`read_side.alerts.dynamodb`): one Query on a table
or index, a key range and the filters left to a filter expression; paged within `READ_BUDGET`
pages per request (a page cut short by the budget comes back with a cursor)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from read_side.alerts.dynamodb_items import s_attr
from read_side.alerts.port import encode_cursor
from read_side.alerts.records import loads
from read_side.paging import Page

READ_BUDGET = 20
R = TypeVar("R")


@dataclass(frozen=True)
class Plan:
    table: str
    index: str | None
    hash_name: str
    hash_value: str
    range_name: str
    low: str
    high: str
    forward: bool
    filters: list[tuple[str, Iterable[str]]]
    exclusive: bool  # after a cursor: the row at the bound (the cursor's own) is left out


def query(
    client: Any,
    plan: Plan,
    first: int,
    cls: type[R],
    matches: Callable[[R], bool],
) -> tuple[list[tuple[str, R]], str | None]:
    """Up to first + 1 matching (key, row) pairs in order; plus, when the read budget ran
    out first, the last key read (the next page starts after it). An empty range (a cursor
    outside the filter's time range, `from` after `to`) holds nothing, as on SQLite;
    DynamoDB would refuse its BETWEEN."""
    low = plan.low or " "
    if low > plan.high:
        return [], None
    names = {"#h": plan.hash_name, "#r": plan.range_name}
    values: dict[str, Any] = {
        ":h": s_attr(plan.hash_value),
        ":lo": s_attr(low),
        ":hi": s_attr(plan.high),
    }
    clauses = []
    for number, (attribute, chosen) in enumerate(plan.filters):
        options = sorted(chosen)
        if not options:
            continue
        names[f"#f{number}"] = attribute
        placeholders = [f":f{number}_{i}" for i in range(len(options))]
        values.update({p: s_attr(v) for p, v in zip(placeholders, options, strict=True)})
        clauses.append(f"#f{number} IN ({', '.join(placeholders)})")
    kwargs: dict[str, Any] = {
        "TableName": plan.table,
        "KeyConditionExpression": "#h = :h AND #r BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": plan.forward,
        "Limit": first + 2,
    }
    if plan.index is None:
        kwargs["ConsistentRead"] = True
    else:
        kwargs["IndexName"] = plan.index
    if clauses:
        kwargs["FilterExpression"] = " AND ".join(clauses)
    found: list[tuple[str, R]] = []
    skip = plan.high if not plan.forward else plan.low
    for _ in range(READ_BUDGET):
        response = client.query(**kwargs)
        for item in response.get("Items", []):
            key = item[plan.range_name]["S"]
            row = loads(cls, item["d"]["S"])
            if (plan.exclusive and key == skip) or not matches(row):
                continue
            found.append((key, row))
        last = response.get("LastEvaluatedKey")
        if len(found) > first or not last:
            return found, None
        kwargs["ExclusiveStartKey"] = last
    return found, str(last[plan.range_name]["S"])


def paged(
    result: tuple[list[tuple[str, R]], str | None], first: int, key: Callable[[R], str], kind: str
) -> Page[R]:
    found, stopped_at = result
    items = [row for _, row in found[:first]]
    if len(found) > first and items:
        return Page(items, encode_cursor(kind, key(items[-1])))
    return Page(items, encode_cursor(kind, stopped_at) if stopped_at else None)
