"""The telemetry model's ports: the history queries the API asks (`TelemetryReader`, with
`HistoryQuery`, pages and cursors) and the writes the projection commits through
(`TelemetryView`), beside the adapters that implement both per store (issue 11).

Ranges are half-open, `[start, end)`: a bucket is returned when its start lies in the range
(after aligning `start` down to the resolution), a reading when its time does.

`HistoryQuery.checked(...)` validates what a client asked for (typed `InvalidInput` naming the
argument at fault); `TelemetryReader.history(tenant, query)` answers it from raw readings or
rollups. Pages are ordered by time; cursors are opaque.
"""

from __future__ import annotations

import base64
import binascii
import functools
import struct
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.notifications import ChangeNotice, LazyChangeNotice
from read_side.paging import Page
from read_side.telemetry.batch import DeviceBatch, MessageKey, RawEntry, notice_data
from read_side.telemetry.row import (
    BUCKET_SECONDS,
    Bucket,
    RawReading,
    Resolution,
    bucket_start,
    epoch_ms,
    from_epoch_ms,
)
from read_side.times import as_utc
from write_side.errors import InvalidInput
from write_side.telemetry import METRIC_NAME  # as accepted by ingestion

__all__ = [
    "DEFAULT_HISTORY_PAGE",
    "MAX_HISTORY_PAGE",
    "MAX_RANGE",
    "HistoryQuery",
    "TelemetryReader",
    "TelemetryView",
    "batch_notice",
    "bucket_range",
    "decode_bucket_cursor",
    "decode_reading_cursor",
    "encode_bucket_cursor",
    "encode_reading_cursor",
    "telemetry_topic",
]

MAX_HISTORY_PAGE = 5000
DEFAULT_HISTORY_PAGE = 500
# The longest range one query may cover, per resolution (pages keep each answer small; these
# keep a client from asking for a scan it cannot page through in reasonable time).
MAX_RANGE: dict[Resolution, timedelta] = {
    Resolution.RAW: timedelta(days=31),
    Resolution.MINUTE: timedelta(days=31),
    Resolution.HOUR: timedelta(days=732),
    Resolution.DAY: timedelta(days=3660),
}


def telemetry_topic(device_id: UUID) -> str:
    """The change-notice topic of one device's new readings (channel per tenant and device)."""
    return f"telemetry:{device_id}"


def batch_notice(batch: DeviceBatch, event_type: str) -> ChangeNotice:
    """The `telemetry` change notice of a batch as the model applied it: what the projection
    publishes after its commit and what a resumed subscription's backfill shows."""
    return LazyChangeNotice(  # its body is built only if a subscriber reads it
        batch.tenant_id,
        telemetry_topic(batch.device_id),
        str(batch.device_id),
        batch.position,
        event_type,
        functools.partial(notice_data, batch),
    )


# Cursors ------------------------------------------------------------------------------------


def encode_reading_cursor(at_ms: int, message_id: str) -> str:
    raw = b"r:" + struct.pack(">q", at_ms) + message_id.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_reading_cursor(cursor: str) -> tuple[int, str]:
    raw = _b64(cursor)
    if len(raw) < 11 or not raw.startswith(b"r:"):
        raise InvalidInput("malformed cursor", field="after")
    try:
        return struct.unpack(">q", raw[2:10])[0], raw[10:].decode()
    except UnicodeDecodeError:
        raise InvalidInput("malformed cursor", field="after") from None


def encode_bucket_cursor(start_s: int) -> str:
    return base64.urlsafe_b64encode(b"b:" + struct.pack(">q", start_s)).decode().rstrip("=")


def decode_bucket_cursor(cursor: str) -> int:
    raw = _b64(cursor)
    if len(raw) != 10 or not raw.startswith(b"b:"):
        raise InvalidInput("malformed cursor", field="after")
    start: int = struct.unpack(">q", raw[2:])[0]
    return start


def _b64(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return b""


# Queries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryQuery:
    """One validated history request: a device's metric over `[start, end)`."""

    device_id: UUID
    metric: str
    start: datetime
    end: datetime
    resolution: Resolution
    first: int = DEFAULT_HISTORY_PAGE
    after: str | None = None

    def bucket_bounds(self) -> tuple[int, int]:
        """The bucket starts (epoch seconds) this page covers: `[low, high)`, after the cursor."""
        low, high = bucket_range(self.resolution, self.start, self.end)
        if self.after is not None:
            low = max(low, decode_bucket_cursor(self.after) + 1)
        return low, high

    @classmethod
    def checked(
        cls,
        device_id: UUID,
        metric: str,
        start: datetime,
        end: datetime,
        *,
        resolution: Resolution = Resolution.RAW,
        first: int = DEFAULT_HISTORY_PAGE,
        after: str | None = None,
    ) -> HistoryQuery:
        """The query, or `InvalidInput` naming the argument at fault (`metric`, `from`, `to`,
        `first`, `after`)."""
        if not METRIC_NAME.match(metric):
            raise InvalidInput(f"not a metric name (must match {METRIC_NAME.pattern})", "metric")
        start, end = as_utc(start, "from"), as_utc(end, "to")
        if end <= start:
            raise InvalidInput("must be later than `from`", field="to")
        if end - start > MAX_RANGE[resolution]:
            days = MAX_RANGE[resolution].days
            raise InvalidInput(
                f"a {resolution.value} history covers at most {days} days; narrow the range "
                "or choose a coarser resolution",
                field="to",
            )
        if not 1 <= first <= MAX_HISTORY_PAGE:
            raise InvalidInput(f"must be between 1 and {MAX_HISTORY_PAGE}", field="first")
        if after is not None:  # fail early, with the right field, on a foreign cursor
            if resolution is Resolution.RAW:
                decode_reading_cursor(after)
            else:
                decode_bucket_cursor(after)
        return cls(device_id, metric, start, end, resolution, first, after)


class TelemetryReader(ABC):
    """Port: a device's telemetry history. Every read is within one tenant."""

    @abstractmethod
    def readings(self, tenant_id: str, query: HistoryQuery) -> Page[RawReading]:
        """Readings of the metric with `start <= at < end`, by (time, message id)."""

    @abstractmethod
    def buckets(self, tenant_id: str, query: HistoryQuery) -> Page[Bucket]:
        """Rollup buckets (of `query.resolution`) whose start lies in `bucket_range(...)`."""

    @abstractmethod
    def stored_messages(
        self, tenant_id: str, device_id: UUID, messages: Sequence[tuple[datetime, str, str]]
    ) -> set[str]:
        """The ids of `messages` (device time, message id, one of its metrics) in raw history:
        the ingestion handler's `RawHistory`, asked about late redeliveries only."""

    @abstractmethod
    def stored_before(self, batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
        """The keys of `entries` (late ones of `batch`) that an earlier event of the device
        stored (a stream version below the batch's): the repeats the view dropped from it. A
        resumed `telemetry` subscription asks, to show each batch as it was applied."""

    def history(self, tenant_id: str, query: HistoryQuery) -> Page[RawReading] | Page[Bucket]:
        if query.resolution is Resolution.RAW:
            return self.readings(tenant_id, query)
        return self.buckets(tenant_id, query)


class TelemetryView(ABC):
    """Port of the projection's writes: batches and the checkpoint commit together."""

    @abstractmethod
    def apply(self, batches: Sequence[DeviceBatch], tracking: Tracking) -> Sequence[DeviceBatch]:
        """Store the batches' raw readings and add their rollups, and record `tracking`
        (a tracking id already recorded: AlreadyTracked, nothing applied). Returns the batches
        as applied: without the late entries found to repeat a stored message."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every reading, rollup and the checkpoint, for a rebuild from zero."""


def bucket_range(resolution: Resolution, start: datetime, end: datetime) -> tuple[int, int]:
    """`[first bucket start, end)` in epoch seconds for a bucket query."""
    seconds = BUCKET_SECONDS[resolution]
    return bucket_start(epoch_ms(start), seconds), -(-epoch_ms(end) // 1000)


def readings_page(found: Sequence[tuple[int, str, float]], first: int) -> Page[RawReading]:
    """A page of readings from up to `first + 1` (epoch ms, message id, value) rows in order;
    the extra row only says there is a next page."""
    items = [RawReading(from_epoch_ms(at), value, mid) for at, mid, value in found[:first]]
    last = found[first - 1] if len(found) > first else None
    return Page(items, encode_reading_cursor(last[0], last[1]) if last else None)
