"""SQLite reader of the alert read models (tables in the event-store file).

Each table keeps its keys and filter columns as columns and the whole row as JSON (`data`), so
the codec is `read_side.alerts.dumps/loads`. Tables and indexes (created by the view):

- `alert_rules (tenant_id, rule_id)`; columns `severity, enabled, deleted`;
- `alerts (tenant_id, alert_id)`; `raised_key, device_id, rule_id, state, severity`; indexes
  `(tenant_id, raised_key)`, `(tenant_id, device_id, raised_key)`, `(tenant_id, rule_id,
  raised_key)`, `(tenant_id, state, raised_key)`;
- `alert_timeline (tenant_id, key)`; `alert_id, device_id, rule_id, severity, transition,
  state_after`; indexes `(tenant_id, device_id, key)`, `(tenant_id, alert_id, key)`,
  `(tenant_id, rule_id, key)`;
- `alert_device_names (tenant_id, device_id)`; `name`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

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
from read_side.paging import Page, check_page_size

RULES_TABLE = "alert_rules"
ALERTS_TABLE = "alerts"
TIMELINE_TABLE = "alert_timeline"
NAMES_TABLE = "alert_device_names"
R = TypeVar("R")

DDL = [
    f"CREATE TABLE IF NOT EXISTS {RULES_TABLE} (tenant_id TEXT NOT NULL, rule_id TEXT NOT NULL, "
    "severity TEXT NOT NULL, enabled INTEGER NOT NULL, deleted INTEGER NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (tenant_id, rule_id)) WITHOUT ROWID",
    f"CREATE TABLE IF NOT EXISTS {ALERTS_TABLE} (tenant_id TEXT NOT NULL, alert_id TEXT NOT NULL, "
    "raised_key TEXT NOT NULL, device_id TEXT NOT NULL, rule_id TEXT NOT NULL, "
    "state TEXT NOT NULL, severity TEXT NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (tenant_id, alert_id)) WITHOUT ROWID",
    *(
        f"CREATE INDEX IF NOT EXISTS {ALERTS_TABLE}_{name} ON {ALERTS_TABLE} "
        f"(tenant_id, {column}raised_key)"
        for name, column in (
            ("time", ""),
            ("device", "device_id, "),
            ("rule", "rule_id, "),
            ("state", "state, "),
        )
    ),
    f"CREATE TABLE IF NOT EXISTS {TIMELINE_TABLE} (tenant_id TEXT NOT NULL, key TEXT NOT NULL, "
    "alert_id TEXT NOT NULL, device_id TEXT NOT NULL, rule_id TEXT NOT NULL, "
    "severity TEXT NOT NULL, transition TEXT NOT NULL, state_after TEXT NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (tenant_id, key)) WITHOUT ROWID",
    *(
        f"CREATE INDEX IF NOT EXISTS {TIMELINE_TABLE}_{column} ON {TIMELINE_TABLE} "
        f"(tenant_id, {column}, key)"
        for column in ("device_id", "alert_id", "rule_id")
    ),
    f"CREATE TABLE IF NOT EXISTS {NAMES_TABLE} (tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, "
    "name TEXT NOT NULL, PRIMARY KEY (tenant_id, device_id)) WITHOUT ROWID",
]


def _in(column: str, values: Iterable[str], clauses: list[str], params: list[Any]) -> None:
    chosen = sorted(values)
    if chosen:
        clauses.append(f"{column} IN ({', '.join('?' for _ in chosen)})")
        params += chosen


class SQLiteAlertReader(AlertReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRuleRow | None:
        return self._one(AlertRuleRow, RULES_TABLE, "rule_id", tenant_id, rule_id.hex)

    def list_rules(
        self, tenant_id: str, criteria: RuleFilter, first: int, after: str | None
    ) -> Page[AlertRuleRow]:
        check_page_size(first)
        clauses, params = ["tenant_id = ?"], [tenant_id]
        if after is not None:
            clauses.append("rule_id > ?")
            params.append(decode_cursor("r", after))
        if not criteria.include_deleted:
            clauses.append("deleted = 0")
        if criteria.enabled is not None:
            clauses.append(f"enabled = {int(criteria.enabled)}")
        if criteria.severity is not None:
            clauses.append("severity = ?")
            params.append(criteria.severity)
        rows = self._many(AlertRuleRow, RULES_TABLE, clauses, params, order="rule_id", first=first)
        return _page(rows, first, lambda r: encode_cursor("r", r.rule_id.hex))

    def get_alert(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        return self._one(AlertRow, ALERTS_TABLE, "alert_id", tenant_id, alert_id.hex)

    def list_alerts(
        self, tenant_id: str, criteria: AlertFilter, first: int, after: str | None
    ) -> Page[AlertRow]:
        check_page_size(first)
        clauses, params = ["tenant_id = ?"], [tenant_id]
        if after is not None:
            clauses.append("raised_key < ?")
            params.append(decode_cursor("a", after))
        if criteria.raised_from is not None:
            clauses.append("raised_key >= ?")
            params.append(time_key(criteria.raised_from))
        if criteria.raised_to is not None:
            clauses.append("raised_key <= ?")
            params.append(time_key(criteria.raised_to) + "#~")
        for column, value in (("device_id", criteria.device_id), ("rule_id", criteria.rule_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value.hex)
        _in("state", criteria.states, clauses, params)
        _in("severity", criteria.severities, clauses, params)
        rows = self._many(
            AlertRow, ALERTS_TABLE, clauses, params, order="raised_key DESC", first=first
        )
        return _page(rows, first, lambda r: encode_cursor("a", r.raised_key))

    def timeline(
        self, tenant_id: str, criteria: TimelineFilter, first: int, after: str | None
    ) -> Page[TimelineEntry]:
        check_page_size(first)
        clauses, params = ["tenant_id = ?"], [tenant_id]
        low, high = criteria.key_range()
        clauses += ["key >= ?", "key <= ?"]
        params += [low, high]
        if after is not None:
            clauses.append("key < ?" if criteria.newest_first else "key > ?")
            params.append(decode_cursor("t", after))
        for column, value in (
            ("device_id", criteria.device_id),
            ("alert_id", criteria.alert_id),
            ("rule_id", criteria.rule_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value.hex)
        _in("severity", criteria.severities, clauses, params)
        _in("transition", criteria.transitions, clauses, params)
        _in("state_after", criteria.states, clauses, params)
        order = "key DESC" if criteria.newest_first else "key"
        rows = self._many(TimelineEntry, TIMELINE_TABLE, clauses, params, order=order, first=first)
        return _page(rows, first, lambda e: encode_cursor("t", e.key))

    def timeline_entry(self, tenant_id: str, key: str) -> TimelineEntry | None:
        return self._one(TimelineEntry, TIMELINE_TABLE, "key", tenant_id, key)

    def device_name(self, tenant_id: str, device_id: UUID) -> str | None:
        statement = f"SELECT name FROM {NAMES_TABLE} WHERE tenant_id = ? AND device_id = ?"  # noqa: S608 - constants
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (tenant_id, device_id.hex))
            row = c.fetchone()
        return None if row is None else str(row["name"])

    def _one(self, cls: type[R], table: str, column: str, tenant_id: str, key: str) -> R | None:
        statement = f"SELECT data FROM {table} WHERE tenant_id = ? AND {column} = ?"  # noqa: S608 - constants
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (tenant_id, key))
            row = c.fetchone()
        return None if row is None else loads(cls, row["data"])

    def _many(
        self,
        cls: type[R],
        table: str,
        clauses: list[str],
        params: list[Any],
        *,
        order: str,
        first: int,
    ) -> list[R]:
        statement = (
            f"SELECT data FROM {table} WHERE {' AND '.join(clauses)} "  # noqa: S608 - constants
            f"ORDER BY {order} LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [*params, first + 1])
            return [loads(cls, row["data"]) for row in c.fetchall()]


def _page(rows: list[R], first: int, cursor: Any) -> Page[R]:
    items = rows[:first]
    return Page(items, cursor(items[-1]) if len(rows) > first and items else None)
