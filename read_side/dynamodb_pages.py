"""One page of a DynamoDB Query in key order, after a cursor's key, with the conditions that are
not part of the key checked on the rows read (`matches`), within `READ_BUDGET` requests: a page
cut short by the budget comes back with a cursor at the last key read, as the alert reader's
(`read_side.alerts.dynamodb_query.paged` makes the `Page`). Used by the OTA read models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

READ_BUDGET = 20
R = TypeVar("R")


def query_page(
    client: Any,
    *,
    table: str,
    index: str | None,
    hash_key: tuple[str, str],
    range_name: str,
    after: str | None,
    forward: bool,
    first: int,
    read: Callable[[dict[str, Any]], R],
    matches: Callable[[R], bool] = lambda _: True,
) -> tuple[list[tuple[str, R]], str | None]:
    """Up to first + 1 matching (range key, row) pairs; plus, when the budget ran out first,
    the last key read (the next page starts after it)."""
    names = {"#h": hash_key[0]}
    values: dict[str, Any] = {":h": {"S": hash_key[1]}}
    condition = "#h = :h"
    if after is not None:
        condition += " AND #r > :a" if forward else " AND #r < :a"
        names["#r"], values[":a"] = range_name, {"S": after}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": forward,
        "Limit": first + 1,
    }
    if index is None:
        kwargs["ConsistentRead"] = True
    else:
        kwargs["IndexName"] = index
    found: list[tuple[str, R]] = []
    last: dict[str, Any] = {}
    for _ in range(READ_BUDGET):
        response = client.query(**kwargs)
        for item in response.get("Items", []):
            row = read(item)
            if matches(row):
                found.append((str(item[range_name]["S"]), row))
        last = response.get("LastEvaluatedKey") or {}
        if len(found) > first or not last:
            return found, None
        kwargs["ExclusiveStartKey"] = last
    return found, str(last[range_name]["S"])


def query_all(
    client: Any, table: str, hash_key: tuple[str, str], read: Callable[[dict[str, Any]], R]
) -> list[R]:
    """Every item of one partition, in key order (strongly consistent)."""
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#h = :h",
        ExpressionAttributeNames={"#h": hash_key[0]},
        ExpressionAttributeValues={":h": {"S": hash_key[1]}},
        ConsistentRead=True,
    )
    return [read(item) for page in pages for item in page.get("Items", [])]
