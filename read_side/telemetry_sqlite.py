"""SQLite reader of telemetry history (tables written by `projections.views.telemetry_sqlite`).

Both reads are one index range scan: readings by (tenant, device, metric, at_ms, message_id),
rollups by (tenant, device, metric, resolution, start_s); `first + 1` rows tell whether there
is a next page. `stored_keys` (is a message in raw history?) is one primary-key read per
message: its device time, id and any one of its metrics (a message's readings are stored
together), for the late redeliveries only (see `projections.telemetry`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from read_side.paging import Page
from read_side.telemetry import (
    BUCKET_SECONDS,
    Bucket,
    HistoryQuery,
    RawReading,
    TelemetryReader,
    decode_reading_cursor,
    encode_bucket_cursor,
    epoch_ms,
    from_epoch_ms,
    readings_page,
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


def stored_keys(
    cursor: Any, tenant_id: str, device_hex: str, messages: Iterable[tuple[int, str, str]]
) -> set[tuple[int, str]]:
    """The (at_ms, message id) of `messages` (at_ms, message id, one of its metrics) stored."""
    found: set[tuple[int, str]] = set()
    for at_ms, message_id, metric in messages:
        cursor.execute(_STORED, (tenant_id, device_hex, metric, at_ms, message_id))
        if cursor.fetchone() is not None:
            found.add((at_ms, message_id))
    return found


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
