"""How readings are recorded as events: the `Telemetry` aggregate, one stream per device.

Many messages of one device go into one `Telemetry.BatchRecorded` event (up to 500 entries and
about 60 KB), so the store writes one item per device per flush, never one per reading. The
stream remembers the message ids it recorded lately: a redelivered message (same device, same
message id) is dropped here, also after a restart, since the window is part of the aggregate's
state (rebuilt from events or a snapshot). The window is bounded by count (`DEDUP_WINDOW`) and
by device time (`DEDUP_WINDOW_SECONDS` behind the newest recorded): a rare sender keeps few ids.

Past the window, the stream still knows when it cannot vouch for a message: `covered_after` is
the newest device time of the batches whose ids left the window (a watermark). A message it
does not know whose device time is at or before that watermark may be a redelivery of one it
forgot, so its entry is recorded with `"late": true`; the telemetry read models check those
entries (only those) against raw history by (device, message id) and drop the repeats, and the
ingestion handler asks the read model before recording one (docs/ingestion.md section 9).
New messages of a device that sends in time order are never late, so they cost nothing extra.
A redelivery carries the message's payload, so its device time, which is what locates it in
raw history (partitioned by device and hour on both stores).

Connectivity lives on the same stream:
`DeviceCameOnline` is recorded with the first batch after the device was offline or unknown,
`DeviceWentOffline` by a heartbeat check; both compete with batches for the stream's next
version, so two processes can never record contradicting transitions (optimistic concurrency).
"""

from __future__ import annotations

import functools
import math
import operator
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from write_side.event_names import event_name, name_of
from write_side.telemetry import BatchEntry, TelemetryBatch
from write_side.telemetry_window import (
    DEDUP_WINDOW,
    IdWindow,
    cutoff_of,
    digest,
    seconds_of,
    upcast_window,
    watermark_of,
)
from write_side.uuids import FLEETWATCH_NS

MAX_ENTRIES_PER_EVENT = 500
MAX_EVENT_BYTES = 60_000  # estimated JSON size of one event's entries
SNAPSHOT_INTERVAL = 100  # versions between two snapshots of a Telemetry stream
_AT = operator.itemgetter("at")  # of an entry's payload
_ENTRY_AT = operator.attrgetter("at")  # of a `BatchEntry`


@functools.lru_cache(maxsize=65_536)  # pure, and computed for every ingested message
def telemetry_id(tenant_id: str, device_id: UUID) -> UUID:
    return uuid.uuid5(FLEETWATCH_NS, f"{tenant_id}/telemetry/{device_id}")


class Telemetry(Aggregate):
    """The recorded telemetry and connectivity of one device."""

    # Snapshots of class version 1 held the window's ids as a dict of strings: upcast.
    class_version = 2
    upcast_v1_v2 = staticmethod(upcast_window)

    # Class-level defaults: a snapshot taken before these existed still loads.
    covered_after: datetime | None = None  # newest device time whose id left the window
    legacy_batches = 0  # batches recorded before a restored old snapshot, times unknown
    legacy_bound: datetime | None = None  # a bound of those batches' device times
    newest_at: str | None = None  # the newest device time recorded (ISO): the window's clock

    @staticmethod
    def create_id(tenant_id: str, device_id: UUID) -> UUID:
        return telemetry_id(tenant_id, device_id)

    @event("Opened")
    def __init__(self, tenant_id: str, device_id: UUID) -> None:
        self.tenant_id = tenant_id
        self.device_id = device_id
        self.window = IdWindow()  # the message ids remembered (`write_side.telemetry_window`)
        self.batches = 0
        self.last_received_at: datetime | None = None
        self.online: bool | None = None  # None until the first batch
        self.offline_since: datetime | None = None

    def has_seen(self, message_id: str) -> bool:
        return digest(message_id) in self.window

    def late_after(self) -> datetime | None:
        """The watermark: an unknown message with a device time at or before it may have left
        the window (None: the window has forgotten nothing, every unknown message is new)."""
        return self.covered_after

    def unvouched(self, entries: Sequence[BatchEntry]) -> list[BatchEntry]:
        """The entries the window cannot vouch for: unknown ids at or before the watermark
        (`record` marks them late). Empty in the normal case, at the cost of one comparison."""
        watermark = self.late_after()
        if watermark is None or not entries or min(map(_ENTRY_AT, entries)) > watermark:
            return []
        window = self.window
        return [e for e in entries if e.at <= watermark and digest(e.message_id) not in window]

    def record(
        self, entries: Sequence[BatchEntry], received_at: datetime, transport: str
    ) -> list[BatchEntry]:
        """Record the entries not seen before (duplicates in `entries` count once); returns
        them. Records nothing when nothing is new."""
        fresh: dict[str, BatchEntry] = {}
        window = self.window
        for entry in entries:
            if entry.message_id not in fresh and digest(entry.message_id) not in window:
                fresh[entry.message_id] = entry
        if not fresh:
            return []
        device = str(self.device_id)
        if self.online is not True:
            self.trigger_event(
                self.DeviceCameOnline, device_id=device, at=received_at,
                offline_since=self.offline_since,
            )  # fmt: skip
        watermark = self.late_after()
        for chunk in _chunks(list(fresh.values())):
            payloads = TelemetryBatch(self.device_id, tuple(chunk)).to_payload()["entries"]
            if watermark is not None and min(map(_ENTRY_AT, chunk)) <= watermark:
                for entry, payload in zip(chunk, payloads, strict=True):
                    if entry.at <= watermark:
                        payload["late"] = True  # absent (not false) on the others
            self.trigger_event(
                self.BatchRecorded, device_id=device, entries=payloads, received_at=received_at,
                transport=transport,
            )  # fmt: skip
        return list(fresh.values())

    def silent_for(self, now: datetime) -> timedelta | None:
        """How long the device has been silent while online; None when it is not online."""
        if self.online is not True or self.last_received_at is None:
            return None
        return now - self.last_received_at

    def check_heartbeat(self, now: datetime, timeout_s: int) -> bool:
        """Record `DeviceWentOffline` when online and silent for more than `timeout_s`."""
        silent = self.silent_for(now)
        if silent is None or silent <= timedelta(seconds=timeout_s):
            return False
        assert self.last_received_at is not None
        self.trigger_event(
            self.DeviceWentOffline, device_id=str(self.device_id),
            last_seen_at=self.last_received_at, detected_at=now, timeout_s=timeout_s,
        )  # fmt: skip
        return True

    # Events: explicit classes (not `@event` methods), since a batch event is triggered
    # thousands of times a second and the decorator inspects its arguments on every call.

    class BatchRecorded(Aggregate.Event):
        device_id: str
        entries: list[dict[str, Any]]  # `TelemetryBatch.to_payload()["entries"]`
        received_at: datetime
        transport: str

        def apply(self, aggregate: Aggregate) -> None:
            t = _telemetry(aggregate)
            t.batches += 1
            window = t.window
            entries = self.entries
            cutoff = None
            newest = math.nan
            if entries:  # UTC ISO strings (`to_payload`) order as their times do
                latest = max(map(_AT, entries))
                if t.newest_at is None or latest > t.newest_at:
                    t.newest_at = latest
                newest = seconds_of(latest)
                # The window's clock is the newest device time recorded.
                cutoff = cutoff_of(newest if latest == t.newest_at else seconds_of(t.newest_at))
            # `record` gives no id the window remembers.
            window.add(t.batches, [digest(e["message_id"]) for e in entries], newest)
            if len(window) > DEDUP_WINDOW or (
                cutoff is not None and window.front_older_than(cutoff)
            ):
                _forget(t, window.evict(cutoff))
            if t.last_received_at is None or self.received_at > t.last_received_at:
                t.last_received_at = self.received_at

    class DeviceCameOnline(Aggregate.Event):
        device_id: str
        at: datetime
        offline_since: datetime | None

        def apply(self, aggregate: Aggregate) -> None:
            t = _telemetry(aggregate)
            t.online, t.offline_since = True, None

    class DeviceWentOffline(Aggregate.Event):
        device_id: str
        last_seen_at: datetime
        detected_at: datetime
        timeout_s: int

        def apply(self, aggregate: Aggregate) -> None:
            t = _telemetry(aggregate)
            t.online, t.offline_since = False, self.detected_at


def _forget(t: Telemetry, left: list[tuple[int, float]]) -> None:
    """Move the watermark to the newest device time of the batches whose ids left the window
    (a batch of unknown time from before an old snapshot: that snapshot's bound)."""
    watermark = t.covered_after
    for batch, newest in left:
        if not math.isnan(newest):
            at = watermark_of(newest)
        elif batch <= t.legacy_batches and t.legacy_bound is not None:
            at = t.legacy_bound
        else:
            continue
        if watermark is None or at > watermark:
            watermark = at
    t.covered_after = watermark


def _telemetry(aggregate: Aggregate) -> Telemetry:
    if not isinstance(aggregate, Telemetry):
        raise TypeError(f"not a Telemetry stream: {type(aggregate).__name__}")
    return aggregate


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
TELEMETRY_OPENED = event_name(Telemetry, "Opened")
TELEMETRY_BATCH_RECORDED = name_of(Telemetry.BatchRecorded)
TELEMETRY_DEVICE_CAME_ONLINE = name_of(Telemetry.DeviceCameOnline)
TELEMETRY_DEVICE_WENT_OFFLINE = name_of(Telemetry.DeviceWentOffline)
TELEMETRY_EVENTS = (
    TELEMETRY_OPENED,
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
)


def _chunks(entries: list[BatchEntry]) -> Iterator[list[BatchEntry]]:
    """Entries in event-sized chunks (count and estimated encoded size)."""
    chunk: list[BatchEntry] = []
    size = 0
    for entry in entries:
        entry_size = 80 + len(entry.message_id) + sum(len(r.metric) + 24 for r in entry.readings)
        if chunk and (len(chunk) >= MAX_ENTRIES_PER_EVENT or size + entry_size > MAX_EVENT_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk
