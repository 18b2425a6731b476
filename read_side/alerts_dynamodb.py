"""DynamoDB reader of the alert read models (tables and item codecs: `alerts_dynamodb_items`).

Every key starts with the tenant. Items keep the whole row as JSON in `d`, plus key, index and
filter attributes (on-demand tables, GSIs projecting everything):

- `{prefix}alert_rules`: `tenant_id`, `rule_id` (hex);
- `{prefix}alerts`: `tenant_id`, `alert_id` (hex); GSIs `by_time` (`tenant_id`, `raised_key`),
  `by_device` (`tenant_device`, `raised_key`), `by_rule` (`tenant_rule`, `raised_key`) and the
  sparse `active` (`active_tenant`, `raised_key`; set only while the alert is not resolved);
- `{prefix}alert_timeline`: `tenant_id`, `sk` (time key # feed position); GSIs `by_device`
  (`tenant_device`, `sk`), `by_alert` (`tenant_alert`, `sk`), `by_rule` (`tenant_rule`, `sk`);
- `{prefix}alert_device_names`: `tenant_id`, `device_id` (hex).

A query picks the most selective index for its filter (device, then alert or rule, then the
`active` index when only open/acknowledged alerts are wanted, else by time) and applies the
rest as a filter expression, reading at most `READ_BUDGET` pages per request: a page cut short
by the budget comes back with a cursor. Reads on the base tables are strongly consistent; GSI
reads are eventually consistent (DynamoDB offers nothing else on a GSI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from read_side.alerts import (
    AlertFilter,
    AlertReader,
    AlertRow,
    AlertRuleRow,
    RuleFilter,
    TimelineEntry,
    TimelineFilter,
    decode_cursor,
    encode_cursor,
    loads,
    time_key,
)
from read_side.alerts_dynamodb_items import s_attr, table_names
from read_side.paging import Page, check_page_size

READ_BUDGET = 20
R = TypeVar("R")


@dataclass(frozen=True)
class _Plan:
    table: str
    index: str | None
    hash_name: str
    hash_value: str
    range_name: str
    low: str
    high: str
    forward: bool
    filters: list[tuple[str, Iterable[str]]]


class DynamoDBAlertReader(AlertReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.tables = table_names(table_prefix)

    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRuleRow | None:
        return self._get(AlertRuleRow, "alert_rules", tenant_id, "rule_id", rule_id.hex)

    def list_rules(
        self, tenant_id: str, criteria: RuleFilter, first: int, after: str | None
    ) -> Page[AlertRuleRow]:
        check_page_size(first)
        low = decode_cursor("r", after) if after is not None else ""
        filters: list[tuple[str, Iterable[str]]] = []
        if criteria.severity is not None:
            filters.append(("severity", [criteria.severity]))
        plan = _Plan(
            self.tables["alert_rules"],
            None,
            "tenant_id",
            tenant_id,
            "rule_id",
            low,
            "~",
            True,
            filters,
        )
        page = self._query(plan, after is not None, first, AlertRuleRow, criteria.matches)
        return _paged(page, first, lambda r: r.rule_id.hex, "r")

    def get_alert(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        return self._get(AlertRow, "alerts", tenant_id, "alert_id", alert_id.hex)

    def list_alerts(
        self, tenant_id: str, criteria: AlertFilter, first: int, after: str | None
    ) -> Page[AlertRow]:
        check_page_size(first)
        low = time_key(criteria.raised_from) if criteria.raised_from else ""
        high = time_key(criteria.raised_to) + "#~" if criteria.raised_to else "~"
        if after is not None:
            high = min(high, decode_cursor("a", after))
        filters: list[tuple[str, Iterable[str]]] = [
            ("alert_state", criteria.states),
            ("severity", criteria.severities),
        ]
        if criteria.device_id is not None:
            index, hash_name, hash_value = "by_device", "tenant_device", criteria.device_id.hex
            if criteria.rule_id is not None:
                filters.append(("tenant_rule", [f"{tenant_id}#{criteria.rule_id.hex}"]))
        elif criteria.rule_id is not None:
            index, hash_name, hash_value = "by_rule", "tenant_rule", criteria.rule_id.hex
        elif criteria.states and criteria.states <= {"open", "acknowledged"}:
            index, hash_name, hash_value = "active", "active_tenant", ""
        else:
            index, hash_name, hash_value = "by_time", "tenant_id", ""
        hash_value = f"{tenant_id}#{hash_value}" if hash_value else tenant_id
        plan = _Plan(
            self.tables["alerts"],
            index,
            hash_name,
            hash_value,
            "raised_key",
            low,
            high,
            False,
            filters,
        )
        page = self._query(plan, after is not None, first, AlertRow, criteria.matches)
        return _paged(page, first, lambda a: a.raised_key, "a")

    def timeline(
        self, tenant_id: str, criteria: TimelineFilter, first: int, after: str | None
    ) -> Page[TimelineEntry]:
        check_page_size(first)
        low, high = criteria.key_range()
        if after is not None:
            key = decode_cursor("t", after)
            low, high = (low, min(high, key)) if criteria.newest_first else (max(low, key), high)
        filters: list[tuple[str, Iterable[str]]] = [
            ("severity", criteria.severities),
            ("transition", criteria.transitions),
            ("state_after", criteria.states),
        ]
        scoped = [
            (name, value)
            for name, value in (
                ("alert", criteria.alert_id),
                ("device", criteria.device_id),
                ("rule", criteria.rule_id),
            )
            if value is not None
        ]
        index = hash_name = None
        hash_value = tenant_id
        for number, (name, value) in enumerate(scoped):
            attribute = f"tenant_{name}"
            if number == 0:
                index, hash_name, hash_value = f"by_{name}", attribute, f"{tenant_id}#{value.hex}"
            else:
                filters.append((attribute, [f"{tenant_id}#{value.hex}"]))
        plan = _Plan(
            self.tables["alert_timeline"],
            index,
            hash_name or "tenant_id",
            hash_value,
            "sk",
            low,
            high,
            not criteria.newest_first,
            filters,
        )
        page = self._query(plan, after is not None, first, TimelineEntry, criteria.matches)
        return _paged(page, first, lambda e: e.key, "t")

    def timeline_entry(self, tenant_id: str, key: str) -> TimelineEntry | None:
        return self._get(TimelineEntry, "alert_timeline", tenant_id, "sk", key)

    def device_name(self, tenant_id: str, device_id: UUID) -> str | None:
        item = self._item("alert_device_names", tenant_id, "device_id", device_id.hex)
        return None if item is None else str(item["name"]["S"])

    def _item(self, table: str, tenant_id: str, name: str, key: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.tables[table],
            Key={"tenant_id": s_attr(tenant_id), name: s_attr(key)},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _get(self, cls: type[R], table: str, tenant_id: str, name: str, key: str) -> R | None:
        item = self._item(table, tenant_id, name, key)
        return None if item is None else loads(cls, item["d"]["S"])

    def _query(
        self,
        plan: _Plan,
        exclusive: bool,
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
            response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                key = item[plan.range_name]["S"]
                row = loads(cls, item["d"]["S"])
                if (exclusive and key == skip) or not matches(row):
                    continue
                found.append((key, row))
            last = response.get("LastEvaluatedKey")
            if len(found) > first or not last:
                return found, None
            kwargs["ExclusiveStartKey"] = last
        return found, str(last[plan.range_name]["S"])


def _paged(
    result: tuple[list[tuple[str, R]], str | None], first: int, key: Callable[[R], str], kind: str
) -> Page[R]:
    found, stopped_at = result
    items = [row for _, row in found[:first]]
    if len(found) > first and items:
        return Page(items, encode_cursor(kind, key(items[-1])))
    return Page(items, encode_cursor(kind, stopped_at) if stopped_at else None)
