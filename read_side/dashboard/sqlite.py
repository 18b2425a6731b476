"""The dashboard model on SQLite: tables `dashboard_devices` and `dashboard_alerts` (one row
per device and per alert, derived from their dataclasses) and `dashboard_figures`
(`tenant_id`, `key`, `value`, `doc`: a counter or sum in `value`, a top-N list as JSON in
`doc`), the writer (one transaction per commit: rows, `value = value + delta` upserts, the
checkpoint moved from the position it continues from) and the reader (four indexed range
reads of the primary key for one dashboard)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from event_store.sqlite_transactions import immediate_transaction
from event_store.tracking import AlreadyTracked
from read_side.dashboard.keys import KeyRange
from read_side.dashboard.port import CheckpointMoved, DashboardReader, DashboardView
from read_side.dashboard.row import AlertFacts, DashboardCommit, DeviceFacts, Top
from read_side.sqlite_rows import SQLiteRowCodec

DEVICES, ALERTS, FIGURES = "dashboard_devices", "dashboard_alerts", "dashboard_figures"
DEVICE_ROWS = SQLiteRowCodec(DeviceFacts)
ALERT_ROWS = SQLiteRowCodec(AlertFacts)
_CREATE_FIGURES = (
    f"CREATE TABLE IF NOT EXISTS {FIGURES} (tenant_id TEXT NOT NULL, key TEXT NOT NULL, "
    "value REAL NOT NULL DEFAULT 0, doc TEXT, PRIMARY KEY (tenant_id, key)) WITHOUT ROWID"
)
_ADD = (
    f"INSERT INTO {FIGURES} (tenant_id, key, value) VALUES (?, ?, ?) "  # noqa: S608
    "ON CONFLICT (tenant_id, key) DO UPDATE SET value = value + excluded.value"
)
_SET_DOC = (
    f"INSERT INTO {FIGURES} (tenant_id, key, doc) VALUES (?, ?, ?) "  # noqa: S608
    "ON CONFLICT (tenant_id, key) DO UPDATE SET doc = excluded.doc"
)
_RANGE = f"SELECT key, value, doc FROM {FIGURES} WHERE tenant_id = ? AND key BETWEEN ? AND ?"  # noqa: S608


def _in(count: int) -> str:
    return ", ".join("?" * count)


def _top(doc: str) -> Top:
    return tuple((str(entity), int(count)) for entity, count in json.loads(doc))


class SQLiteDashboardView(SQLiteTrackingRecorder, DashboardView):
    """Build with `app.factory.tracking_recorder(...)` or on the read-models file."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            DEVICE_ROWS.create_table(DEVICES, ("tenant_id", "device_id")),
            ALERT_ROWS.create_table(ALERTS, ("tenant_id", "alert_id")),
            _CREATE_FIGURES,
        ]

    def commit(self, commit: DashboardCommit) -> None:
        name = commit.tracking.application_name
        with immediate_transaction(self.datastore) as c:
            # Read in the transaction that writes, which holds the write lock from its start:
            # another connection's writer is waited for, and its commit then seen here (so
            # this one is refused, never applied stale).
            c.execute(
                "SELECT MAX(notification_id) FROM tracking WHERE application_name = ?", (name,)
            )
            found = c.fetchone()[0]
            if found is not None and found >= commit.tracking.notification_id:
                raise AlreadyTracked(f"{name}: {found} is recorded")
            if found != commit.after:
                raise CheckpointMoved(f"{name}: checkpoint {found}, expected {commit.after}")
            self._insert_tracking(c, commit.tracking)  # one row per name, or a row per commit
            self._write(c, commit)

    def _write(self, c: SQLiteCursor, commit: DashboardCommit) -> None:
        if commit.devices:
            upsert = DEVICE_ROWS.upsert(DEVICES)
            c.executemany(upsert, [DEVICE_ROWS.to_row(row) for row in commit.devices])
        if commit.alerts:
            upsert = ALERT_ROWS.upsert(ALERTS)
            c.executemany(upsert, [ALERT_ROWS.to_row(row) for row in commit.alerts])
        c.executemany(_ADD, [(t, k, v) for (t, k), v in commit.deltas.items()])
        docs = [(t, k, json.dumps([list(e) for e in top])) for (t, k), top in commit.tops.items()]
        c.executemany(_SET_DOC, docs)

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in (DEVICES, ALERTS, FIGURES):
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - constant names
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


class SQLiteDashboardReader(DashboardReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def devices(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceFacts]:
        rows = self._select(DEVICE_ROWS, DEVICES, "device_id", tenant_id, device_ids)
        return {row.device_id: row for row in rows}

    def alerts(self, tenant_id: str, alert_ids: Sequence[UUID]) -> dict[UUID, AlertFacts]:
        rows = self._select(ALERT_ROWS, ALERTS, "alert_id", tenant_id, alert_ids)
        return {row.alert_id: row for row in rows}

    def _select(
        self, codec: SQLiteRowCodec[Any], table: str, column: str, tenant: str, ids: Sequence[UUID]
    ) -> list[Any]:
        found: list[Any] = []
        names = ", ".join(codec.names)
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                chunk = [i.hex for i in ids[start : start + 500]]
                c.execute(
                    f"SELECT {names} FROM {table} "  # noqa: S608 - constants
                    f"WHERE tenant_id = ? AND {column} IN ({_in(len(chunk))})",
                    (tenant, *chunk),
                )
                found.extend(codec.from_row(row) for row in c.fetchall())
        return found

    def counts(self, tenant_id: str, keys: Sequence[str]) -> dict[str, float]:
        return {k: v for k, v, _ in self._figures(tenant_id, keys)}

    def tops(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Top]:
        return {k: _top(doc) for k, _, doc in self._figures(tenant_id, keys) if doc}

    def _figures(self, tenant_id: str, keys: Sequence[str]) -> list[tuple[str, float, str]]:
        found: list[tuple[str, float, str]] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                c.execute(
                    f"SELECT key, value, doc FROM {FIGURES} "  # noqa: S608 - constant
                    f"WHERE tenant_id = ? AND key IN ({_in(len(chunk))})",
                    (tenant_id, *chunk),
                )
                found.extend(c.fetchall())
        return found

    def ranges(
        self, tenant_id: str, ranges: Sequence[KeyRange]
    ) -> tuple[dict[str, float], dict[str, Top]]:
        figures: dict[str, float] = {}
        tops: dict[str, Top] = {}
        with self.datastore.transaction(commit=False) as c:
            for low, high in ranges:
                c.execute(_RANGE, (tenant_id, low, high))
                for key, value, doc in c.fetchall():
                    if doc:
                        tops[key] = _top(doc)
                    else:
                        figures[key] = value
        return figures, tops
