"""The telemetry model on SQLite: the tables, their writer (the view: readings, rollups and the
checkpoint in one SQLite transaction per batch of events, so a re-applied event is never counted
twice) and their reader, side by side so the tables' SQL lives in one place.

Tables (in the read-models file; device ids as hex, times as epoch ms / s):

- `telemetry_readings`: one row per reading, PRIMARY KEY (tenant_id, device_id, metric, at_ms,
  message_id) WITHOUT ROWID, so a range read of one metric is one index range in time order;
  a message stored twice (past the aggregate's dedup window) is ignored here.
- A late entry (a redelivery past the stream's window, `read_side.telemetry.batch`) whose
  message is already a row is dropped before its rollups are added: looked up inside the
  transaction, one primary-key read per late entry (`stored_keys`: its device time, id and any
  one of its metrics, since a message's readings are stored together), so the normal path
  reads nothing. SQLite needs no "not this event's own rows": its rows and checkpoint commit
  together (and a rebuild starts from empty tables), so an event's rows are never there before
  it is applied.
- `telemetry_rollups`: one row per (tenant, device, metric, resolution, bucket start) with
  min, max, sum, count; each event's contribution to a row is added in feed order: by one
  upsert (`ON CONFLICT DO UPDATE`) where one event of the batch touches the row, else by one
  read, the additions in Python and one write (`read_side.telemetry.rollup_writes`).

Both reads are one index range scan: readings by (tenant, device, metric, at_ms, message_id),
rollups by (tenant, device, metric, resolution, start_s); `first + 1` rows tell whether there
is a next page.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from read_side.paging import Page
from read_side.telemetry.batch import DeviceBatch, MessageKey, RawEntry, without_repeats
from read_side.telemetry.port import (
    HistoryQuery,
    TelemetryReader,
    TelemetryView,
    decode_reading_cursor,
    encode_bucket_cursor,
    readings_page,
)
from read_side.telemetry.rollup_writes import RollupRowKey, RollupWrites, Summary, rows_of
from read_side.telemetry.row import (
    BUCKET_SECONDS,
    Bucket,
    RawReading,
    epoch_ms,
    from_epoch_ms,
)

READINGS_TABLE = "telemetry_readings"
ROLLUPS_TABLE = "telemetry_rollups"

_READINGS = (
    f"SELECT at_ms, message_id, value FROM {READINGS_TABLE} "  # noqa: S608 - constant name
    "WHERE tenant_id = ? AND device_id = ? AND metric = ? AND at_ms >= ? AND at_ms < ? "
    "AND (at_ms, message_id) > (?, ?) ORDER BY at_ms, message_id LIMIT ?"
)
_BUCKETS = (
    f"SELECT start_s, min, max, sum, count FROM {ROLLUPS_TABLE} "  # noqa: S608 - constant name
    "WHERE tenant_id = ? AND device_id = ? AND metric = ? AND resolution = ? "
    "AND start_s >= ? AND start_s < ? ORDER BY start_s LIMIT ?"
)
_STORED = (
    f"SELECT 1 FROM {READINGS_TABLE} "  # noqa: S608 - constant name
    "WHERE tenant_id = ? AND device_id = ? AND metric = ? AND at_ms = ? AND message_id = ?"
)
# Stored by an event of the device before the given one (its stream version); a row written
# before readings recorded their version (NULL) counts as before.
_STORED_BELOW = f"{_STORED} AND (version IS NULL OR version < ?)"
_INSERT_READING = (
    f"INSERT OR IGNORE INTO {READINGS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, at_ms, message_id, value, version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_ADD_ROLLUP = (
    f"INSERT INTO {ROLLUPS_TABLE} AS r "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, resolution, start_s, min, max, sum, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, device_id, metric, resolution, start_s) DO UPDATE SET "
    "min = min(r.min, excluded.min), max = max(r.max, excluded.max), "
    "sum = r.sum + excluded.sum, count = r.count + excluded.count"
)
_ROLLUP_KEY = "tenant_id = ? AND device_id = ? AND metric = ? AND resolution = ? AND start_s = ?"
_GET_ROLLUP = f"SELECT min, max, sum, count FROM {ROLLUPS_TABLE} WHERE {_ROLLUP_KEY}"  # noqa: S608 - constant
_SET_ROLLUP = (
    f"INSERT OR REPLACE INTO {ROLLUPS_TABLE} "  # noqa: S608 - constant name
    "(tenant_id, device_id, metric, resolution, start_s, min, max, sum, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def stored_keys(
    cursor: Any,
    tenant_id: str,
    device_hex: str,
    messages: Iterable[tuple[int, str, str]],
    below_version: int | None = None,
) -> set[tuple[int, str]]:
    """The (at_ms, message id) of `messages` (at_ms, message id, one of its metrics) stored
    (by the device's events below `below_version` only, when given)."""
    found: set[tuple[int, str]] = set()
    below = () if below_version is None else (below_version,)
    statement = _STORED if below_version is None else _STORED_BELOW
    for at_ms, message_id, metric in messages:
        cursor.execute(statement, (tenant_id, device_hex, metric, at_ms, message_id, *below))
        if cursor.fetchone() is not None:
            found.add((at_ms, message_id))
    return found


def _read_rollup(cursor: Any, key: RollupRowKey) -> Summary | None:
    cursor.execute(_GET_ROLLUP, key)
    found: Summary | None = cursor.fetchone()
    return found


def _stored_before(c: Any, batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
    """The keys of `entries` (late ones of `batch`, with readings) that an earlier event of the
    device stored: looked up by one of each entry's metrics."""
    keys = ((e.at_ms, e.message_id, next(iter(e.metrics))) for e in entries if e.metrics)
    return stored_keys(c, batch.tenant_id, batch.device_id.hex, keys, batch.version)


class SQLiteTelemetryView(SQLiteTrackingRecorder, TelemetryView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {READINGS_TABLE} ("
            "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, metric TEXT NOT NULL, "
            "at_ms INTEGER NOT NULL, message_id TEXT NOT NULL, value REAL NOT NULL, "
            "version INTEGER, "  # of the device's Telemetry stream: the event that stored it
            "PRIMARY KEY (tenant_id, device_id, metric, at_ms, message_id)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {ROLLUPS_TABLE} ("
            "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, metric TEXT NOT NULL, "
            "resolution TEXT NOT NULL, start_s INTEGER NOT NULL, min REAL NOT NULL, "
            "max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, "
            "PRIMARY KEY (tenant_id, device_id, metric, resolution, start_s)) WITHOUT ROWID",
        ]

    def _create_table(self, c: SQLiteCursor) -> None:
        """The tables; a file made before readings recorded their event's version gets the
        column (its rows keep NULL: stored before any event a resumed subscription asks about)."""
        super()._create_table(c)
        c.execute(f"PRAGMA table_info({READINGS_TABLE})")
        if "version" not in {row[1] for row in c.fetchall()}:
            c.execute(f"ALTER TABLE {READINGS_TABLE} ADD COLUMN version INTEGER")

    def apply(self, batches: Sequence[DeviceBatch], tracking: Tracking) -> Sequence[DeviceBatch]:
        late = any(batch.late for batch in batches)
        readings, rollups = ([], RollupWrites()) if late else rows_of(batches)
        kept = batches
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            if late:  # rows built once the repeats are dropped, from what the rows say now
                kept = without_repeats(batches, functools.partial(_stored_before, c))
                readings, rollups = rows_of(kept)
            c.executemany(_INSERT_READING, readings)
            c.executemany(_ADD_ROLLUP, rollups.added)
            c.executemany(_SET_ROLLUP, rollups.merged(functools.partial(_read_rollup, c)))
        return kept

    def reset(self, application_name: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {READINGS_TABLE}")  # noqa: S608 - constant name
            c.execute(f"DELETE FROM {ROLLUPS_TABLE}")  # noqa: S608 - constant name
            c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


class SQLiteTelemetryReader(TelemetryReader):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def readings(self, tenant_id: str, query: HistoryQuery) -> Page[RawReading]:
        device_id, metric, start, end = query.device_id, query.metric, query.start, query.end
        first, after = query.first, query.after
        after_key = decode_reading_cursor(after) if after else (epoch_ms(start) - 1, "")
        span = (epoch_ms(start), epoch_ms(end))
        params = (tenant_id, device_id.hex, metric, *span, *after_key, first + 1)
        with self.datastore.transaction(commit=False) as c:
            c.execute(_READINGS, params)
            rows = c.fetchall()
        return readings_page([(r[0], r[1], r[2]) for r in rows], first)

    def buckets(self, tenant_id: str, query: HistoryQuery) -> Page[Bucket]:
        device_id, metric, resolution = query.device_id, query.metric, query.resolution
        first = query.first
        low, high = query.bucket_bounds()
        params = (tenant_id, device_id.hex, metric, resolution.value, low, high, first + 1)
        with self.datastore.transaction(commit=False) as c:
            c.execute(_BUCKETS, params)
            rows = c.fetchall()
        seconds = BUCKET_SECONDS[resolution]
        items = [
            Bucket(from_epoch_ms(r[0] * 1000), seconds, r[1], r[2], r[3], r[4])
            for r in rows[:first]
        ]
        more = len(rows) > first
        return Page(items, encode_bucket_cursor(rows[first - 1][0]) if more else None)

    def stored_messages(
        self, tenant_id: str, device_id: UUID, messages: Sequence[tuple[datetime, str, str]]
    ) -> set[str]:
        """`RawHistory` of the ingestion handler: the ids of `messages` already stored."""
        keys = [(epoch_ms(at), message_id, metric) for at, message_id, metric in messages]
        with self.datastore.transaction(commit=False) as c:
            return {message_id for _, message_id in stored_keys(c, tenant_id, device_id.hex, keys)}

    def stored_before(self, batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
        with self.datastore.transaction(commit=False) as c:
            return _stored_before(c, batch, entries)
