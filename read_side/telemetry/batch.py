"""What one `Telemetry.BatchRecorded` event adds to the telemetry model, folded purely:
`fold(envelope)` turns one event into a `DeviceBatch` (its entries, and the min/max/sum/count
it adds to each (metric, resolution, bucket)), by device time, so out-of-order readings land in
their own buckets. The views store batches (`TelemetryView.apply`), with the checkpoint.

A redelivery older than the stream's dedup window is recorded again, its entry marked `late`
(`write_side.telemetry_log`). Before storing a batch, each view drops the late entries that
repeat a message already in raw history (same device, message id and device time: a
redelivery carries its payload) or earlier in the same call (`without_repeats`), in the same
commit as the rest: a message is counted once however late it comes back. Only late entries
are looked up, so the normal path costs nothing more; events from before the flag are not late.

Here, not in `projections`, because the views that store a batch live in this package and
`fold` needs no event name (the projection, `projections.telemetry`, picks the events).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from event_store.envelope import EventEnvelope
from read_side.telemetry.row import BUCKET_SECONDS, ROLLUP_RESOLUTIONS, Resolution, epoch_ms
from write_side.uuids import parse_uuid

_MINUTE = Resolution.MINUTE
_COARSER = tuple(
    (resolution, BUCKET_SECONDS[resolution])
    for resolution in ROLLUP_RESOLUTIONS
    if resolution is not _MINUTE
)


@dataclass(frozen=True, slots=True)
class Stats:
    min: float
    max: float
    sum: float
    count: int

    @classmethod
    def of(cls, value: float) -> Stats:
        return cls(value, value, value, 1)

    def merge(self, other: Stats) -> Stats:
        return Stats(
            min(self.min, other.min),
            max(self.max, other.max),
            self.sum + other.sum,
            self.count + other.count,
        )


class RollupKey(NamedTuple):  # a tuple: hashed in C, millions of times in a rebuild
    metric: str
    resolution: Resolution
    start_s: int  # epoch seconds of the bucket's start


@dataclass(frozen=True, slots=True)
class RawEntry:
    at_ms: int  # device time
    message_id: str
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class DeviceBatch:
    """What one `BatchRecorded` event adds to its device's telemetry read models."""

    tenant_id: str
    device_id: UUID
    version: int  # of the device's Telemetry stream
    position: int  # in the feed
    received_at: datetime
    transport: str
    entries: tuple[RawEntry, ...]
    status: tuple[Mapping[str, Any], ...]  # each entry's status fields, in entry order
    late: tuple[int, ...] = ()  # indexes of the entries the stream marked late

    @functools.cached_property
    def rollups(self) -> Mapping[RollupKey, Stats]:
        """What the entries add to each (metric, resolution, bucket): made when first asked
        (the SQLite view adds a one-message batch's values without it)."""
        return rollup(self.entries)

    @property
    def reading_count(self) -> int:
        return sum(len(e.metrics) for e in self.entries)

    def without(self, repeats: set[MessageKey]) -> DeviceBatch:
        """The batch without the entries of `repeats`, its rollups summed again, the late marks
        of the entries kept kept (the Parquet files hold them) (pure)."""
        late = set(self.late)
        kept = [
            (entry, status, index in late)
            for index, (entry, status) in enumerate(zip(self.entries, self.status, strict=True))
            if (entry.at_ms, entry.message_id) not in repeats
        ]
        entries = tuple(entry for entry, _, _ in kept)
        status = tuple(status for _, status, _ in kept)
        still_late = tuple(i for i, (_, _, was_late) in enumerate(kept) if was_late)
        return replace(self, entries=entries, status=status, late=still_late)


MessageKey = tuple[int, str]  # device time (epoch ms), message id
# What a view's raw history holds of a batch's late entries (an event never finds itself).
StoredLookup = Callable[[DeviceBatch, list[RawEntry]], set[MessageKey]]


def without_repeats(batches: Sequence[DeviceBatch], stored: StoredLookup) -> Sequence[DeviceBatch]:
    """The batches without their late entries that repeat a message stored before (`stored`
    asks raw history) or held by an earlier batch of the same device here. Only entries with
    readings are stored, so only those are looked up; none late: `batches` as they are."""
    if not any(batch.late for batch in batches):
        return batches
    kept: list[DeviceBatch] = []
    for batch in batches:
        if batch.late:
            late = [e for e in (batch.entries[i] for i in batch.late) if e.metrics]
            earlier = {
                (e.at_ms, e.message_id)
                for b in kept
                if b.device_id == batch.device_id and b.tenant_id == batch.tenant_id
                for e in b.entries
            }
            repeats = {(e.at_ms, e.message_id) for e in late} & earlier
            unknown = [e for e in late if (e.at_ms, e.message_id) not in repeats]
            if unknown:
                repeats |= stored(batch, unknown)
            if repeats:
                kept.append(batch.without(repeats))
                continue
        kept.append(batch)
    return kept


def rollup(entries: Sequence[RawEntry]) -> dict[RollupKey, Stats]:
    """Min/max/sum/count of each metric per UTC bucket of every rollup resolution."""
    # The values of each (metric, minute) are gathered in a list and summarised by the C
    # builtins; each coarser bucket then merges the summaries of its minutes, in time order.
    # For one set of entries this is deterministic, so a rebuild yields the same numbers.
    if len(entries) == 1:  # one message: each of its values is every bucket's whole summary
        (entry,) = entries
        start = entry.at_ms // 60_000 * 60
        single: dict[RollupKey, Stats] = {}
        for metric, value in sorted(entry.metrics.items()):
            stats = Stats(value, value, 0.0 + value, 1)  # the sum as sum() makes it (-0.0: 0.0)
            single[RollupKey(metric, _MINUTE, start)] = stats
            for resolution, size in _COARSER:
                single[RollupKey(metric, resolution, start // size * size)] = stats
        return single
    minutes: dict[tuple[str, int], list[float]] = {}
    for entry in entries:
        start = entry.at_ms // 60_000 * 60
        for metric, value in entry.metrics.items():
            values = minutes.get((metric, start))
            if values is None:
                minutes[(metric, start)] = [value]
            else:
                values.append(value)
    result: dict[RollupKey, Stats] = {}
    for (metric, start), values in sorted(minutes.items()):
        stats = Stats(min(values), max(values), sum(values), len(values))
        result[RollupKey(metric, _MINUTE, start)] = stats
        for resolution, size in _COARSER:
            key = RollupKey(metric, resolution, start // size * size)
            current = result.get(key)
            result[key] = stats if current is None else current.merge(stats)
    return result


def merge_rollups(
    into: dict[RollupKey, Stats], more: Mapping[RollupKey, Stats]
) -> dict[RollupKey, Stats]:
    for key, stats in more.items():
        current = into.get(key)
        into[key] = stats if current is None else current.merge(stats)
    return into


def fold(envelope: EventEnvelope) -> DeviceBatch:
    """The batch of one `Telemetry.BatchRecorded` envelope (pure)."""
    payload = envelope.payload
    raw = payload["entries"]
    entries = tuple(
        RawEntry(
            epoch_ms(_time(e["at"])),
            str(e["message_id"]),
            {str(m): float(v) for m, v in e["metrics"].items()},
        )
        for e in raw
    )
    return DeviceBatch(
        tenant_id=envelope.tenant_id,
        device_id=parse_uuid(str(payload["device_id"])),
        version=envelope.version,
        position=envelope.position or 0,
        received_at=_time(payload["received_at"]),
        transport=str(payload.get("transport", "")),
        entries=entries,
        status=tuple(dict(e.get("status") or {}) for e in raw),
        late=tuple(i for i, e in enumerate(raw) if e.get("late")),
    )


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def notice_data(batch: DeviceBatch) -> dict[str, Any]:
    """The JSON-ready body of a `telemetry` change notice: the event's messages."""
    return {
        "device_id": str(batch.device_id),
        "version": batch.version,
        "received_at": batch.received_at.isoformat(),
        "transport": batch.transport,
        "messages": [
            {"message_id": e.message_id, "at_ms": e.at_ms, "metrics": dict(e.metrics), "status": s}
            for e, s in zip(batch.entries, batch.status, strict=True)
        ],
    }


def as_applied(batch: DeviceBatch, stored_before: StoredLookup) -> DeviceBatch:
    """`batch` as the view applied it: without the late entries that repeat a message an
    earlier event of the device stored (`stored_before`: by stream version, so the answer is
    the same now as when it was applied). A resumed `telemetry` subscription shows this."""
    return without_repeats([batch], stored_before)[0]
