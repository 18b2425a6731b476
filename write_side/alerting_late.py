"""Late redeliveries at the alerting policy (pure).

The device's Telemetry stream drops a message id among its last 1,024, and the policy skips
one it saw among the device's last 64 (a second layer); past the stream's window, a redelivery
comes back marked late by the stream (`write_side.telemetry_log`). The read
models drop such repeats against raw history; the policy has none, and needs none: rule
evaluation never lets a reading older than its watermark transition. A reading AT the
watermark would be stepped again though (the redelivered reading was the newest of its
metric): a repeat counted twice, a for-duration run extended, a rate computed against itself.
So of a late entry, only the readings newer than every watch's watermark on their metric are
evaluated. The cost: a genuinely new late message with exactly that time is skipped too; new
late messages newer than the watermarks (a backfill of a rarely reported metric) still count.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.alerting_watch import Watch
from write_side.rule_compiled import EvaluationState, prepare
from write_side.telemetry import BatchEntry, TelemetryBatch


@dataclass
class RecentIds:
    """Per device, the last `size` message ids the policy saw, to skip a redelivered message. A
    second layer: the device's Telemetry stream already drops a message id among its last
    1,024 and marks older redeliveries late, so this needs no more than a batch or two's ids.

    Kept as 64-bit hashes of the ids in a ring (`_Ring`): about 0.7 KB per device where a
    deque and a set of 64 strings took 14 KB (issue 14: `bench/memory.py`; 1.4 GB at 100,000
    devices). Two ids of one device's last 64 share a hash with odds of about 2**-58 per id;
    the policy then skips the second one's readings. Nothing here is persisted (a snapshot
    leaves it out, a replay refills it), so Python's per-process string hash serves."""

    size: int = 64
    _seen: dict[UUID, _Ring] = field(default_factory=dict)

    def first_time(self, device_id: UUID, message_id: str) -> bool:
        """Whether `message_id` is new for the device (it is remembered from now on)."""
        ring = self._seen.get(device_id)
        if ring is None:
            ring = self._seen[device_id] = _Ring()
        return ring.add(hash(message_id), self.size)

    def forget(self, device_id: UUID) -> None:
        self._seen.pop(device_id, None)


class _Ring:
    """The hashes of a device's last ids, oldest overwritten first."""

    __slots__ = ("hashes", "next")

    def __init__(self) -> None:
        self.hashes = array("q")
        self.next = 0  # where the next hash goes once the ring is full

    def add(self, digest: int, size: int) -> bool:
        """False when `digest` is among the last `size`; else remember it and say True."""
        hashes = self.hashes
        if digest in hashes:
            return False
        if len(hashes) < size:
            hashes.append(digest)
        else:
            hashes[self.next] = digest
            self.next = (self.next + 1) % size
        return True


def watermarks(
    states: Iterable[tuple[RuleVersion, EvaluationState | None]],
) -> dict[str | None, datetime]:
    """The newest watermark per metric of the device's watches (None: a rule on all metrics)."""
    passed: dict[str | None, datetime] = {}
    for rule, state in states:
        watermark = state.watermark if state is not None else None
        if watermark is not None:
            metric = prepare(rule).metric
            current = passed.get(metric)
            if current is None or current < watermark:
                passed[metric] = watermark
    return passed


def unpassed(
    entries: Iterable[BatchEntry], late: frozenset[str], passed: Mapping[str | None, datetime]
) -> list[BatchEntry]:
    """The entries, each late one reduced to its readings no watermark has reached (dropped
    when none is left)."""
    everything = passed.get(None)
    kept: list[BatchEntry] = []
    for entry in entries:
        if entry.message_id not in late:
            kept.append(entry)
            continue
        readings = tuple(
            r
            for r in entry.readings
            if not _reached(r.at, passed.get(r.metric)) and not _reached(r.at, everything)
        )
        if readings:
            kept.append(entry._replace(readings=readings))
    return kept


def _reached(at: datetime, watermark: datetime | None) -> bool:
    return watermark is not None and at <= watermark


def fresh_entries(
    recent: RecentIds,
    watches: Mapping[tuple[UUID, UUID], Watch],
    rules: list[RuleVersion],
    batch: TelemetryBatch,
    late: frozenset[str],
) -> list[BatchEntry]:
    """The batch's entries not seen recently, late ones without the readings a watch of the
    device passed (its watermark on their metric)."""
    device_id = batch.device_id
    fresh = [e for e in batch.entries if recent.first_time(device_id, e.message_id)]
    if not late:
        return fresh
    states = ((r, watches.get((r.rule_id, device_id))) for r in rules)
    passed = watermarks((r, w.state) for r, w in states if w is not None)
    return unpassed(fresh, late, passed)
