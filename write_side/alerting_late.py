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

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.rule_compiled import EvaluationState, prepare
from write_side.telemetry import BatchEntry


@dataclass
class RecentIds:
    """Per device, the last `size` message ids the policy saw, to skip a redelivered message. A
    second layer: the device's Telemetry stream already drops a message id among its last
    1,024 and marks older redeliveries late, so this needs no more than a batch or two's ids
    (issue 14: 1,024 here cost 115 KB per device, `bench/memory.py`)."""

    size: int = 64
    _seen: dict[UUID, tuple[deque[str], set[str]]] = field(default_factory=dict)

    def first_time(self, device_id: UUID, message_id: str) -> bool:
        """Whether `message_id` is new for the device (it is remembered from now on)."""
        recent = self._seen.get(device_id)
        if recent is None:
            recent = self._seen[device_id] = (deque(), set())
        order, seen = recent
        if message_id in seen:
            return False
        order.append(message_id)
        seen.add(message_id)
        if len(order) > self.size:
            seen.discard(order.popleft())
        return True

    def forget(self, device_id: UUID) -> None:
        self._seen.pop(device_id, None)


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
