"""The notification outbox in the store's SQLite file: table `notification_outbox`
(`notifications.outbox` holds the port and the row format)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.sqlite import SQLiteTrackingRecorder
from notifications.outbox import (
    COLUMNS,
    TABLE,
    Outbox,
    OutboxRow,
    Status,
    from_record,
    iso,
    to_record,
)
from write_side.notifications import Notification, superseded_keys

# Statements built from constants only (no input): S608 does not apply.
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"  # noqa: S608
_INSERT = (
    f"INSERT OR IGNORE INTO {TABLE} ({', '.join(COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c for c in COLUMNS)})"
)
_CLAIM = (
    f"UPDATE {TABLE} SET status = 'sending', attempts = attempts + 1, lease_until = :lease "  # noqa: S608
    f"WHERE (tenant_id, dedup_key) IN (SELECT tenant_id, dedup_key FROM {TABLE} "
    "WHERE (status IN ('pending', 'retrying') AND next_attempt_at <= :now) "
    "OR (status = 'sending' AND lease_until <= :now) ORDER BY next_attempt_at LIMIT :limit) "
    f"RETURNING {', '.join(COLUMNS)}"
)
_SUPPRESS = (
    f"UPDATE {TABLE} SET status = 'suppressed' WHERE tenant_id = ? AND status = 'pending' "  # noqa: S608
    "AND next_attempt_at > ? AND dedup_key IN (?, ?, ?)"
)
_FORGET = (
    f"UPDATE {TABLE} SET address = '', status = CASE WHEN status IN ('pending', 'retrying') "  # noqa: S608
    "THEN 'suppressed' ELSE status END WHERE tenant_id = ? AND user_id = ?"
)
_MARK = (
    f"UPDATE {TABLE} SET status = :status, next_attempt_at = :next, last_error = :error, "  # noqa: S608
    "sent_at = :sent_at, provider_id = :provider_id, lease_until = NULL "
    "WHERE tenant_id = :tenant_id AND dedup_key = :key AND status = 'sending' "
    "AND attempts = :attempts"
)


class SQLiteOutbox(SQLiteTrackingRecorder, Outbox):
    """Build with `app.factory.tracking_recorder(SQLiteOutbox)` to share the store's file."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "tenant_id TEXT NOT NULL, dedup_key TEXT NOT NULL, alert_id TEXT NOT NULL, "
            "transition TEXT NOT NULL, user_id TEXT NOT NULL, channel TEXT NOT NULL, "
            "address TEXT NOT NULL, severity TEXT NOT NULL, subject TEXT NOT NULL, "
            "body TEXT NOT NULL, status TEXT NOT NULL, deliver_after TEXT, "
            "attempts INTEGER NOT NULL, next_attempt_at TEXT NOT NULL, lease_until TEXT, "
            "last_error TEXT, created_at TEXT NOT NULL, sent_at TEXT, provider_id TEXT, "
            "PRIMARY KEY (tenant_id, dedup_key)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (status, next_attempt_at)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_lease ON {TABLE} (status, lease_until)",
        ]

    def add(
        self, notifications: Sequence[Notification], now: datetime, tracking: Tracking | None = None
    ) -> int:
        added = 0
        with self.datastore.transaction(commit=True) as c:
            if tracking is not None:
                self._insert_tracking(c, tracking)
            for notification in notifications:
                record = to_record(notification, now)
                if self._suppress_deferred(c, notification, now):
                    record["status"] = "suppressed"
                c.execute(_INSERT, record)
                added += c.sqlite_cursor.rowcount
        return added

    def _suppress_deferred(self, c: Any, notification: Notification, now: datetime) -> bool:
        keys = superseded_keys(notification)
        if not keys:
            return False
        c.execute(_SUPPRESS, (notification.tenant_id, iso(now), *keys))
        return bool(c.sqlite_cursor.rowcount > 0)

    def get(self, tenant_id: str, key: str) -> OutboxRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{_SELECT} WHERE tenant_id = ? AND dedup_key = ?", (tenant_id, key))
            row = c.fetchone()
        return None if row is None else from_record(dict(zip(COLUMNS, row, strict=True)))

    def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxRow]:
        params = {"now": iso(now), "lease": iso(now + lease), "limit": limit}
        with self.datastore.transaction(commit=True) as c:
            c.execute(_CLAIM, params)
            rows = c.fetchall()
        claimed = [from_record(dict(zip(COLUMNS, row, strict=True))) for row in rows]
        return sorted(claimed, key=lambda r: r.next_attempt_at)

    def mark_sent(self, row: OutboxRow, now: datetime, provider_id: str | None) -> bool:
        return self._mark(row, "sent", sent_at=now, provider_id=provider_id)

    def mark_retry(self, row: OutboxRow, next_attempt_at: datetime, error: str) -> bool:
        return self._mark(row, "retrying", next_attempt_at=next_attempt_at, error=error)

    def mark_failed(self, row: OutboxRow, now: datetime, error: str) -> bool:
        return self._mark(row, "failed", error=error)

    def forget_user(self, tenant_id: str, user_id: UUID) -> int:
        with self.datastore.transaction(commit=True) as c:
            c.execute(_FORGET, (tenant_id, str(user_id)))
            return int(c.sqlite_cursor.rowcount)

    def _mark(
        self,
        row: OutboxRow,
        status: Status,
        *,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
        sent_at: datetime | None = None,
        provider_id: str | None = None,
    ) -> bool:
        params = {
            "status": status,
            "next": iso(next_attempt_at or row.next_attempt_at),
            "error": None if error is None else error[:1000],
            "sent_at": None if sent_at is None else iso(sent_at),
            "provider_id": provider_id,
            "tenant_id": row.notification.tenant_id,
            "key": row.notification.key,
            "attempts": row.attempts,
        }
        with self.datastore.transaction(commit=True) as c:
            c.execute(_MARK, params)
            return bool(c.sqlite_cursor.rowcount == 1)
