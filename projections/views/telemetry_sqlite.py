"""SQLite view of telemetry: raw readings and rollups, committed with the checkpoint in one
SQLite transaction per batch of events (so a re-applied event is never counted twice).

Tables (in the event-store file; device ids as hex, times as epoch ms / s):

- `telemetry_readings`: one row per reading, PRIMARY KEY (tenant_id, device_id, metric, at_ms,
  message_id) WITHOUT ROWID, so a range read of one metric is one index range in time order;
  a message stored twice (past the aggregate's dedup window) is ignored here.
- A late entry (a redelivery past the stream's window, `projections.telemetry`) whose message
  is already a row is dropped before its rollups are added: looked up inside the transaction,
  one primary-key read per late entry, so the normal path reads nothing. SQLite needs no
  "not this event's own rows": its rows and checkpoint commit together (and a rebuild starts
  from empty tables), so an event's rows are never there before it is applied.
- `telemetry_rollups`: one row per (tenant, device, metric, resolution, bucket start) with
  min, max, sum, count; each event's contribution to a row is added by one upsert
  (`ON CONFLICT DO UPDATE`), in feed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from event_store.sqlite import SQLiteTrackingRecorder
from projections.telemetry import (
    DeviceBatch,
    MessageKey,
    RawEntry,
    Stats,
    TelemetryView,
    without_repeats,
)
from read_side.telemetry import Resolution
from read_side.telemetry_sqlite import stored_keys

READINGS_TABLE = "telemetry_readings"
ROLLUPS_TABLE = "telemetry_rollups"

_INSERT_READING = (
    f"INSERT OR IGNORE INTO {READINGS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, at_ms, message_id, value) VALUES (?, ?, ?, ?, ?, ?)"
)
_ADD_ROLLUP = (
    f"INSERT INTO {ROLLUPS_TABLE} AS r "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, resolution, start_s, min, max, sum, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, device_id, metric, resolution, start_s) DO UPDATE SET "
    "min = min(r.min, excluded.min), max = max(r.max, excluded.max), "
    "sum = r.sum + excluded.sum, count = r.count + excluded.count"
)


_RESOLUTION = {resolution: resolution.value for resolution in Resolution}


def _fields(stats: Stats) -> tuple[float, float, float, int]:
    return stats.min, stats.max, stats.sum, stats.count


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

    def apply(self, batches: Sequence[DeviceBatch], tracking: Tracking) -> Sequence[DeviceBatch]:
        late = any(batch.late for batch in batches)
        readings, rollups = ([], []) if late else _rows(batches)
        kept = batches
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            if late:  # rows built once the repeats are dropped, from what the rows say now

                def stored(batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
                    keys = ((e.at_ms, e.message_id, next(iter(e.metrics))) for e in entries)
                    return stored_keys(c, batch.tenant_id, batch.device_id.hex, keys)

                kept = without_repeats(batches, stored)
                readings, rollups = _rows(kept)
            c.executemany(_INSERT_READING, readings)
            # One upsert per event and row, in feed order: the same additions in the same order
            # however events are grouped into batches, so a rebuild yields the same sums bit for
            # bit. (Reading each touched row once, merging in Python and writing it back cost a
            # third more where each event is a different device's: docs/operations.md section 16.)
            c.executemany(_ADD_ROLLUP, rollups)
        return kept

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {READINGS_TABLE}")  # noqa: S608 - constant name
            c.execute(f"DELETE FROM {ROLLUPS_TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


def _rows(batches: Sequence[DeviceBatch]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The readings' rows, and each event's contribution to each rollup row (feed order)."""
    readings: list[tuple[Any, ...]] = []
    rollups: list[tuple[Any, ...]] = []
    for batch in batches:
        tenant, device = batch.tenant_id, batch.device_id.hex
        readings.extend(
            (tenant, device, metric, entry.at_ms, entry.message_id, value)
            for entry in batch.entries
            for metric, value in entry.metrics.items()
        )
        rollups.extend(
            (tenant, device, metric, _RESOLUTION[resolution], start_s, *_fields(s))
            for (metric, resolution, start_s), s in batch.rollups.items()
        )
    return readings, rollups
