"""SQLite view of telemetry: raw readings and rollups, committed with the checkpoint in one
SQLite transaction per batch of events (so a re-applied event is never counted twice).

Tables (in the event-store file; device ids as hex, times as epoch ms / s):

- `telemetry_readings`: one row per reading, PRIMARY KEY (tenant_id, device_id, metric, at_ms,
  message_id) WITHOUT ROWID, so a range read of one metric is one index range in time order;
  a message stored twice (past the aggregate's dedup window) is ignored here.
- `telemetry_rollups`: one row per (tenant, device, metric, resolution, bucket start) with
  min, max, sum, count; upserted by merging (`min(min, excluded.min)`, `sum + excluded.sum`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from projections.telemetry import DeviceBatch, TelemetryView

READINGS_TABLE = "telemetry_readings"
ROLLUPS_TABLE = "telemetry_rollups"

_INSERT_READING = (
    f"INSERT OR IGNORE INTO {READINGS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, at_ms, message_id, value) VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_ROLLUP = (
    f"INSERT INTO {ROLLUPS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, resolution, start_s, min, max, sum, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, device_id, metric, resolution, start_s) DO UPDATE SET "
    "min = min(min, excluded.min), max = max(max, excluded.max), "
    "sum = sum + excluded.sum, count = count + excluded.count"
)


class SQLiteTelemetryView(SQLiteTrackingRecorder, TelemetryView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {READINGS_TABLE} ("
            "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, metric TEXT NOT NULL, "
            "at_ms INTEGER NOT NULL, message_id TEXT NOT NULL, value REAL NOT NULL, "
            "PRIMARY KEY (tenant_id, device_id, metric, at_ms, message_id)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {ROLLUPS_TABLE} ("
            "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, metric TEXT NOT NULL, "
            "resolution TEXT NOT NULL, start_s INTEGER NOT NULL, min REAL NOT NULL, "
            "max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, "
            "PRIMARY KEY (tenant_id, device_id, metric, resolution, start_s)) WITHOUT ROWID",
        ]

    def apply(self, batches: Sequence[DeviceBatch], tracking: Tracking) -> None:
        # Each event's rollups are added in feed order (not merged across events first), so
        # the floating-point sums do not depend on how events were grouped into batches: a
        # rebuild yields the same numbers, bit for bit.
        readings: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for batch in batches:
            tenant, device = batch.tenant_id, batch.device_id.hex
            readings.extend(
                (tenant, device, metric, entry.at_ms, entry.message_id, value)
                for entry in batch.entries
                for metric, value in entry.metrics.items()
            )
            rows.extend(
                (
                    tenant,
                    device,
                    k.metric,
                    k.resolution.value,
                    k.start_s,
                    s.min,
                    s.max,
                    s.sum,
                    s.count,
                )
                for k, s in batch.rollups.items()
            )
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_INSERT_READING, readings)
            c.executemany(_UPSERT_ROLLUP, rows)

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {READINGS_TABLE}")  # noqa: S608 - constant name
            c.execute(f"DELETE FROM {ROLLUPS_TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
