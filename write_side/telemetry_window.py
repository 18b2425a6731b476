"""The window of a `Telemetry` stream (`write_side.telemetry_log`): which message ids it
keeps, which it forgets, and the watermark of what it forgot.

The window is bounded by count (`DEDUP_WINDOW`) and by device time (`DEDUP_WINDOW_SECONDS`
behind the newest recorded). The stream keeps its ids in `recent` (id -> batch number, oldest
first) and each batch's newest device time in `batch_times`; a batch's time is kept while any
of its ids is, and becomes the watermark (`covered_after`) when its ids leave. Older snapshots
are taken on here too (`adopt`). Pure functions over the aggregate's state; no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from write_side.telemetry import TelemetryLimits

if TYPE_CHECKING:
    from write_side.telemetry_log import Telemetry

__all__ = [
    "DEDUP_WINDOW",
    "DEDUP_WINDOW_SECONDS",
    "adopt",
    "cutoff_of",
    "evict",
    "legacy_bound",
    "old_front",
    "time_of",
]

DEDUP_WINDOW = 1024  # ids at most
DEDUP_WINDOW_SECONDS = 300  # and none of a batch older than this behind the newest device time
# Validation refuses device times further ahead of their receipt than this: the bound of the
# device times of a state restored from a snapshot taken before `covered_after` existed.
MAX_SKEW = TelemetryLimits().max_future_skew


def cutoff_of(newest: str) -> str:
    """The device time (ISO, as `to_payload` writes it) before which a batch leaves the window."""
    return (datetime.fromisoformat(newest) - timedelta(seconds=DEDUP_WINDOW_SECONDS)).isoformat()


def old_front(t: Telemetry, cutoff: str) -> bool:
    """Whether the oldest id's batch is older than `cutoff` (a time the window no longer
    keeps). One lookup: the batches leave in order, so only the front one is looked at."""
    recent = t.recent
    if not recent:
        return False
    newest = time_of(t, next(iter(recent.values())))
    return newest is not None and newest < cutoff


def time_of(t: Telemetry, batch: int) -> str | None:
    """The newest device time of `batch` (None: unknown, or the batch had no entries)."""
    times = t.batch_times
    i = batch - t.batch_times_from
    return times[i] if times is not None and 0 <= i < len(times) else None


def evict(
    t: Telemetry, recent: dict[str, int], times: list[str | None], cutoff: str | None
) -> None:
    """Forget the oldest ids past the window: beyond `DEDUP_WINDOW`, and whole batches whose
    newest device time is before `cutoff`. The watermark moves to the newest device time of
    the batches they belonged to; a batch's time is kept while any of its ids is."""
    watermark = t.covered_after
    last = 0
    old_batch = 0  # a batch that leaves for its age: all of its ids go
    while recent:
        message_id = next(iter(recent))
        batch = recent[message_id]
        newest = time_of(t, batch)
        if len(recent) <= DEDUP_WINDOW and batch != old_batch:
            if cutoff is None or newest is None or newest >= cutoff:
                break
            old_batch = batch
        del recent[message_id]
        if batch == last:
            continue
        last = batch
        if newest is not None:
            at = datetime.fromisoformat(newest)
        elif batch <= t.legacy_batches and t.legacy_bound is not None:
            at = t.legacy_bound
        else:
            continue
        if watermark is None or at > watermark:
            watermark = at
    t.covered_after = watermark
    front = recent[next(iter(recent))] if recent else t.batches + 1
    if front > t.batch_times_from:  # the batches before the oldest id's have left
        del times[: front - t.batch_times_from]
        t.batch_times_from = front


def adopt(t: Telemetry) -> list[str | None]:
    """The state of an older snapshot, taken on: one with `batch_latest` (the same times as
    a dict), or one from before the watermark (`_legacy`)."""
    latest = t.batch_latest
    if latest is None:
        return _legacy(t)
    first = min(map(int, latest), default=t.batches + 1)
    t.batch_times = [latest.get(str(b)) for b in range(first, t.batches + 1)]
    t.batch_times_from = first
    t.batch_latest = None
    return t.batch_times


def _legacy(t: Telemetry) -> list[str | None]:
    """Adopt a state restored from a snapshot from before the watermark: its batches' device
    times are unknown, so they are bounded by its last receipt (plus the skew validation
    allows)."""
    t.batch_times = []
    t.batch_times_from = t.batches + 1
    t.legacy_batches = t.batches
    t.legacy_bound = legacy_bound(t)
    if len(t.recent) >= DEDUP_WINDOW:  # it may have forgotten ids already
        t.covered_after = t.legacy_bound
    return t.batch_times


def legacy_bound(t: Telemetry) -> datetime | None:
    return None if t.last_received_at is None else t.last_received_at + MAX_SKEW
