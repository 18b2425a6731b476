"""The orchestrator's timers and job outbox on SQLite: tables `ota_timers` and `ota_outbox` in
the event store's file (built with `app.factory.tracking_recorder(SQLiteSchedule)`, as the
notification outbox is), so the schedule writer commits its rows and its checkpoint in one
transaction. A row's identity is (tenant, key): a second insert of a key is a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking

from event_store.sqlite import SQLiteTrackingRecorder
from ota.schedule import JobNotice, Timer
from ota.schedule_rows import (
    NOTICE_COLUMNS,
    OUTBOX_TABLE,
    TIMER_COLUMNS,
    TIMERS_TABLE,
    iso,
    notice_of,
    notice_record,
    timer_of,
    timer_record,
)

# Statements built from constants only (no input): S608 does not apply.
_INSERT_TIMER = (
    f"INSERT OR IGNORE INTO {TIMERS_TABLE} ({', '.join(TIMER_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in TIMER_COLUMNS)})"
)
_DUE = (
    f"SELECT {', '.join(TIMER_COLUMNS)} FROM {TIMERS_TABLE} WHERE due_at <= ? "  # noqa: S608
    "ORDER BY due_at, tenant_id, timer_key LIMIT ?"
)
_DONE = f"DELETE FROM {TIMERS_TABLE} WHERE tenant_id = ? AND timer_key = ?"  # noqa: S608
_INSERT_NOTICE = (
    f"INSERT OR IGNORE INTO {OUTBOX_TABLE} ({', '.join(NOTICE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in NOTICE_COLUMNS)})"
)
_PENDING = (
    f"SELECT {', '.join(NOTICE_COLUMNS)} FROM {OUTBOX_TABLE} WHERE sent = 0 "  # noqa: S608
    "ORDER BY rowid LIMIT ?"
)
_SENT = f"UPDATE {OUTBOX_TABLE} SET sent = 1 WHERE tenant_id = ? AND notice_key = ?"  # noqa: S608


class SQLiteSchedule(SQLiteTrackingRecorder):
    """`TimerStore` and `JobOutbox` (ota.schedule) in the event store's SQLite file."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {TIMERS_TABLE} ("
            "tenant_id TEXT NOT NULL, timer_key TEXT NOT NULL, due_at TEXT NOT NULL, "
            "stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL, kind TEXT NOT NULL, "
            "PRIMARY KEY (tenant_id, timer_key)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {TIMERS_TABLE}_due "
            f"ON {TIMERS_TABLE} (due_at, tenant_id, timer_key)",
            # A rowid table: `pending` is oldest first by insertion order.
            f"CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} ("
            "tenant_id TEXT NOT NULL, notice_key TEXT NOT NULL, device_id TEXT NOT NULL, "
            "execution_id TEXT NOT NULL, attempt INTEGER NOT NULL, operation TEXT NOT NULL, "
            "channel TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0, "
            "UNIQUE (tenant_id, notice_key))",
            f"CREATE INDEX IF NOT EXISTS {OUTBOX_TABLE}_pending ON {OUTBOX_TABLE} (sent)",
        ]

    # TimerStore ----------------------------------------------------------------------------

    def schedule(self, timers: Sequence[Timer]) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._schedule(c, timers)

    def due(self, now: datetime, limit: int) -> list[Timer]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(_DUE, (iso(now), limit))
            rows = c.fetchall()
        return [timer_of(dict(zip(TIMER_COLUMNS, row, strict=True))) for row in rows]

    def done(self, timers: Sequence[Timer]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for timer in timers:
                c.execute(_DONE, (timer.tenant_id, timer.key))

    # JobOutbox -----------------------------------------------------------------------------

    def add(self, notices: Sequence[JobNotice]) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._add(c, notices)

    def pending(self, limit: int) -> list[JobNotice]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(_PENDING, (limit,))
            rows = c.fetchall()
        return [notice_of(dict(zip(NOTICE_COLUMNS, row, strict=True))) for row in rows]

    def mark_sent(self, notices: Sequence[JobNotice]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for notice in notices:
                c.execute(_SENT, (notice.tenant_id, notice.key))

    # The schedule writer's batch -------------------------------------------------------------

    def record(
        self, timers: Sequence[Timer], notices: Sequence[JobNotice], tracking: Tracking
    ) -> None:
        """Rows and checkpoint in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            self._schedule(c, timers)
            self._add(c, notices)

    def _schedule(self, c: Any, timers: Sequence[Timer]) -> None:
        for timer in timers:
            c.execute(_INSERT_TIMER, timer_record(timer))

    def _add(self, c: Any, notices: Sequence[JobNotice]) -> None:
        for notice in notices:
            c.execute(_INSERT_NOTICE, notice_record(notice))
