"""The alert read models on DynamoDB: the tables (defined with their item codecs in
`dynamodb_items`), their writer (the view) and their reader (query plans: `dynamodb_query`),
side by side.

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

The writer: TransactWriteItems holding the rows and the checkpoint. A batch needing more than
one transaction keeps each alert's row with its timeline entries, guards every part by the
tracking item and records the checkpoint with the last one (`write_parts_with_tracking`). Alert
and rule rows only replace rows of a lower stream version, and a timeline entry rides with its
alert's row, so neither a replay nor a second worker's interleaved parts take them back
(`event_store.dynamodb.parts`). Device names have no version: a lagging worker's part can still
write an older name there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import MAX_PART_ITEMS, guarded_put
from read_side.alerts.dynamodb_items import (
    KEYS,
    alert_item,
    create_table_kwargs,
    entry_item,
    name_item,
    rule_item,
    s_attr,
    table_names,
)
from read_side.alerts.dynamodb_query import Plan, paged, query
from read_side.alerts.port import (
    AlertFilter,
    AlertReader,
    AlertsChanges,
    AlertsView,
    RuleFilter,
    TimelineFilter,
    decode_cursor,
)
from read_side.alerts.records import loads
from read_side.alerts.rows import AlertRow, AlertRuleRow, TimelineEntry, time_key
from read_side.dynamodb_tables import delete_all_items, get_one
from read_side.paging import Page, check_page_size

MAX_ITEMS = MAX_PART_ITEMS  # one transaction: 100 actions, one of them the tracking guard
R = TypeVar("R")


class DynamoDBAlertsView(DynamoDBTrackingRecorder, AlertsView):
    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), *create_table_kwargs(self.table_prefix)]

    def commit(self, changes: AlertsChanges, tracking: Tracking) -> None:
        tables = table_names(self.table_prefix)
        units: list[list[dict[str, Any]]] = []
        entries: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        for entry in changes.entries:
            item = entry_item(entry)
            entries.setdefault((entry.tenant_id, entry.alert_id), []).append(item)
        for row in changes.alerts:
            unit = [guarded_put(tables["alerts"], alert_item(row), "version")]
            unit += [
                self._put(tables["alert_timeline"], item)
                for item in entries.get((row.tenant_id, row.alert_id), [])
            ]
            units.append(unit)
        units += [
            [guarded_put(tables["alert_rules"], rule_item(r), "version")] for r in changes.rules
        ]
        units += [[self._put(tables["alert_device_names"], name_item(d))] for d in changes.devices]
        transactions: list[list[dict[str, Any]]] = [[]]
        for unit in units:
            if len(transactions[-1]) + len(unit) > MAX_ITEMS:
                transactions.append([])
            transactions[-1] += unit
        self.write_parts_with_tracking(tracking, transactions)

    @staticmethod
    def _put(table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": table, "Item": item}}

    def reset(self, application_name: str) -> None:
        for suffix, table in table_names(self.table_prefix).items():
            delete_all_items(self.client, table, ("tenant_id", KEYS[suffix]))
        self.delete_tracking(application_name)


class DynamoDBAlertReader(AlertReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.tables = table_names(table_prefix)

    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRuleRow | None:
        return self._get(AlertRuleRow, "alert_rules", tenant_id, rule_id.hex)

    def list_rules(
        self, tenant_id: str, criteria: RuleFilter, first: int, after: str | None
    ) -> Page[AlertRuleRow]:
        check_page_size(first)
        low = decode_cursor("r", after) if after is not None else ""
        filters: list[tuple[str, Iterable[str]]] = []
        if criteria.severity is not None:
            filters.append(("severity", [criteria.severity]))
        plan = Plan(
            self.tables["alert_rules"],
            None,
            "tenant_id",
            tenant_id,
            "rule_id",
            low,
            "~",
            True,
            filters,
            after is not None,
        )
        page = query(self.client, plan, first, AlertRuleRow, criteria.matches)
        return paged(page, first, lambda r: r.rule_id.hex, "r")

    def get_alert(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        return self._get(AlertRow, "alerts", tenant_id, alert_id.hex)

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
        plan = Plan(
            self.tables["alerts"],
            index,
            hash_name,
            hash_value,
            "raised_key",
            low,
            high,
            False,
            filters,
            after is not None,
        )
        page = query(self.client, plan, first, AlertRow, criteria.matches)
        return paged(page, first, lambda a: a.raised_key, "a")

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
        plan = Plan(
            self.tables["alert_timeline"],
            index,
            hash_name or "tenant_id",
            hash_value,
            "sk",
            low,
            high,
            not criteria.newest_first,
            filters,
            after is not None,
        )
        page = query(self.client, plan, first, TimelineEntry, criteria.matches)
        return paged(page, first, lambda e: e.key, "t")

    def timeline_entry(self, tenant_id: str, key: str) -> TimelineEntry | None:
        return self._get(TimelineEntry, "alert_timeline", tenant_id, key)

    def device_name(self, tenant_id: str, device_id: UUID) -> str | None:
        item = self._item("alert_device_names", tenant_id, device_id.hex)
        return None if item is None else str(item["name"]["S"])

    def _item(self, table: str, tenant_id: str, key: str) -> dict[str, Any] | None:
        item_key = {"tenant_id": s_attr(tenant_id), KEYS[table]: s_attr(key)}
        return get_one(self.client, self.tables[table], item_key)

    def _get(self, cls: type[R], table: str, tenant_id: str, key: str) -> R | None:
        item = self._item(table, tenant_id, key)
        return None if item is None else loads(cls, item["d"]["S"])
