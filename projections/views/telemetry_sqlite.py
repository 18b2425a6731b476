"""SQLite view of telemetry: raw readings and rollups, committed with the checkpoint in one
SQLite transaction per batch of events (so a re-applied event is never counted twice).

Tables (in the event-store file; device ids as hex, times as epoch ms / s):

- `telemetry_readings`: one row per reading, PRIMARY KEY (tenant_id, device_id, metric, at_ms,
  message_id) WITHOUT ROWID, so a range read of one metric is one index range in time order;
  a message stored twice (past the aggregate's dedup window) is ignored here.
- `telemetry_rollups`: one row per (tenant, device, metric, resolution, bucket start) with
  min, max, sum, count; per batch of events, each touched row is read once, merged with the
  events' contributions in feed order, and written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from eventsourcing.persistence import Tracking

from event_store.sqlite import SQLiteTrackingRecorder
from projections.telemetry import DeviceBatch, Stats, TelemetryView
from read_side.telemetry import Resolution

READINGS_TABLE = "telemetry_readings"
ROLLUPS_TABLE = "telemetry_rollups"

_INSERT_READING = (
    f"INSERT OR IGNORE INTO {READINGS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, at_ms, message_id, value) VALUES (?, ?, ?, ?, ?, ?)"
)
_REPLACE_ROLLUP = (
    f"INSERT OR REPLACE INTO {ROLLUPS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, resolution, start_s, min, max, sum, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The rollup rows of many keys in one statement (keys as a JSON array of 5-element arrays).
_SELECT_ROLLUPS = (
    "SELECT r.tenant_id, r.device_id, r.metric, r.resolution, r.start_s, "  # noqa: S608
    "r.min, r.max, r.sum, r.count "
    f"FROM json_each(?) AS k JOIN {ROLLUPS_TABLE} AS r "
    "ON r.tenant_id = json_extract(k.value, '$[0]') "
    "AND r.device_id = json_extract(k.value, '$[1]') "
    "AND r.metric = json_extract(k.value, '$[2]') "
    "AND r.resolution = json_extract(k.value, '$[3]') "
    "AND r.start_s = json_extract(k.value, '$[4]')"
)
RowKey = tuple[str, str, str, str, int]  # tenant, device hex, metric, resolution, start_s


_RESOLUTION = {resolution: resolution.value for resolution in Resolution}


def _merged(found: Stats | None, parts: list[Stats]) -> tuple[float, float, float, int]:
    """`found.merge(parts[0]).merge(parts[1])...` (`parts` alone when nothing was found), as
    plain numbers: the same comparisons and additions in the same order."""
    first = parts[0] if found is None else found
    low, high, total, count = first.min, first.max, first.sum, first.count
    for stats in parts if found is not None else parts[1:]:
        low = min(low, stats.min)
        high = max(high, stats.max)
        total = total + stats.sum
        count += stats.count
    return low, high, total, count


def _current_rollups(cursor: Any, keys: list[RowKey]) -> dict[RowKey, Stats]:
    if not keys:
        return {}
    cursor.execute(_SELECT_ROLLUPS, (orjson.dumps(keys).decode(),))
    return {tuple(row[:5]): Stats(*row[5:]) for row in cursor.fetchall()}


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
        readings: list[tuple[Any, ...]] = []
        contributions: dict[RowKey, list[Stats]] = {}  # each event's, in feed order
        for batch in batches:
            tenant, device = batch.tenant_id, batch.device_id.hex
            readings.extend(
                (tenant, device, metric, entry.at_ms, entry.message_id, value)
                for entry in batch.entries
                for metric, value in entry.metrics.items()
            )
            for (metric, resolution, start_s), stats in batch.rollups.items():
                key = (tenant, device, metric, _RESOLUTION[resolution], start_s)
                parts = contributions.get(key)
                if parts is None:
                    contributions[key] = [stats]
                else:
                    parts.append(stats)
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            c.executemany(_INSERT_READING, readings)
            # Each touched rollup row is read once, the batch's events are added to it in feed
            # order (the same additions, in the same order, as one upsert per event: sums are
            # bit for bit the same however events were grouped into batches, so a rebuild
            # yields the same numbers), and it is written once.
            current = _current_rollups(c, list(contributions))
            rows = [
                (*key, *_merged(current.get(key), parts)) for key, parts in contributions.items()
            ]
            c.executemany(_REPLACE_ROLLUP, rows)

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {READINGS_TABLE}")  # noqa: S608 - constant name
            c.execute(f"DELETE FROM {ROLLUPS_TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
