"""The alert read models on SQLite (tables in the event-store file, declared in
`sqlite_tables`): the writer (the view: one transaction holds a batch's rows and the checkpoint)
and the reader (read-only transactions), side by side so the tables' SQL lives in one package."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.alerts.port import (
    AlertFilter,
    AlertReader,
    AlertsChanges,
    AlertsView,
    RuleFilter,
    TimelineFilter,
    decode_cursor,
    encode_cursor,
)
from read_side.alerts.records import loads
from read_side.alerts.rows import AlertRow, AlertRuleRow, TimelineEntry, time_key
from read_side.alerts.sqlite_tables import ALERTS, NAMES, RULES, TABLES, TIMELINE, Table
from read_side.paging import Page, check_page_size

R = TypeVar("R")


class SQLiteAlertsView(SQLiteTrackingRecorder, AlertsView):
    def construct_create_table_statements(self) -> list[str]:
        tables = [statement for table in TABLES for statement in table.ddl()]
        return [*super().construct_create_table_statements(), *tables]

    def commit(self, changes: AlertsChanges, tracking: Tracking) -> None:
        written: tuple[tuple[Table, Iterable[Any]], ...] = (
            (RULES, changes.rules),
            (ALERTS, changes.alerts),
            (TIMELINE, changes.entries),
            (NAMES, changes.devices),
        )
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            for table, rows in written:
                c.executemany(table.upsert(), [table.params(row) for row in rows])

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {table.name}")  # noqa: S608 - constant names
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


def _in(column: str, values: Iterable[str], clauses: list[str], params: list[Any]) -> None:
    chosen = sorted(values)
    if chosen:
        clauses.append(f"{column} IN ({', '.join('?' for _ in chosen)})")
        params += chosen


class SQLiteAlertReader(AlertReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRuleRow | None:
        return self._one(AlertRuleRow, RULES, tenant_id, rule_id.hex)

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
        rows = self._many(AlertRuleRow, RULES, clauses, params, order="rule_id", first=first)
        return _page(rows, first, lambda r: encode_cursor("r", r.rule_id.hex))

    def get_alert(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        return self._one(AlertRow, ALERTS, tenant_id, alert_id.hex)

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
        rows = self._many(AlertRow, ALERTS, clauses, params, order="raised_key DESC", first=first)
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
        rows = self._many(TimelineEntry, TIMELINE, clauses, params, order=order, first=first)
        return _page(rows, first, lambda e: encode_cursor("t", e.key))

    def timeline_entry(self, tenant_id: str, key: str) -> TimelineEntry | None:
        return self._one(TimelineEntry, TIMELINE, tenant_id, key)

    def device_name(self, tenant_id: str, device_id: UUID) -> str | None:
        statement = f"SELECT name FROM {NAMES.name} WHERE tenant_id = ? AND device_id = ?"  # noqa: S608 - constants
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (tenant_id, device_id.hex))
            row = c.fetchone()
        return None if row is None else str(row["name"])

    def _one(self, cls: type[R], table: Table, tenant_id: str, key: str) -> R | None:
        statement = f"SELECT data FROM {table.name} WHERE tenant_id = ? AND {table.key} = ?"  # noqa: S608 - constants
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, (tenant_id, key))
            row = c.fetchone()
        return None if row is None else loads(cls, row["data"])

    def _many(
        self,
        cls: type[R],
        table: Table,
        clauses: list[str],
        params: list[Any],
        *,
        order: str,
        first: int,
    ) -> list[R]:
        statement = (
            f"SELECT data FROM {table.name} WHERE {' AND '.join(clauses)} "  # noqa: S608 - constants
            f"ORDER BY {order} LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [*params, first + 1])
            return [loads(cls, row["data"]) for row in c.fetchall()]


def _page(rows: list[R], first: int, cursor: Any) -> Page[R]:
    items = rows[:first]
    return Page(items, cursor(items[-1]) if len(rows) > first and items else None)
