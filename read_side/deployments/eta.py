"""A deployment's estimated end (docs/firmware.md section 12.7), from its row alone: the members
not yet notified divided by the current rate (the plan's ramp at the counts so far; no limit:
none to wait), plus the median time from first notification to SUCCEEDED so far.

The times to SUCCEEDED are kept as a histogram in the row (`success_seconds`), so the row stays
small at any fleet size: bucket `i` holds the times t with floor(log(1 + t) / log(RATIO)) = i,
and the median is read as its bucket's geometric middle (within about 5 % of the true one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from read_side.deployments.row import DeploymentRow
from write_side.deployment_plan import DeploymentPlan
from write_side.deployment_states import FINISHED, ExecutionState

__all__ = ["RATIO", "bucket_of", "eta", "median_seconds"]

RATIO = 1.1


def bucket_of(seconds: float) -> str:
    return str(math.floor(math.log1p(max(seconds, 0.0)) / math.log(RATIO)))


def median_seconds(histogram: Mapping[str, int]) -> float | None:
    """The median time of the histogram (None when empty)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    seen = 0
    for bucket in sorted(histogram, key=int):
        seen += histogram[bucket]
        if 2 * seen >= total:
            low, high = RATIO ** int(bucket), RATIO ** (int(bucket) + 1)
            return math.sqrt(low * high) - 1
    return None  # pragma: no cover - the loop reaches the total


def eta(row: DeploymentRow, now: datetime) -> datetime | None:
    """When the deployment should end; None once finished, before any execution succeeded (no
    time to SUCCEEDED to go by), or while a dynamic one is open (it ends when a person finishes
    it, docs/firmware.md 12.2)."""
    median = median_seconds(row.success_seconds)
    if row.status in FINISHED or median is None:
        return None
    if row.target.get("dynamic") and not row.finishing:
        return None
    waiting = max(row.targets - row.notified, 0)
    rate = DeploymentPlan.from_payload(dict(row.plan)).rate
    minutes = 0.0
    if rate is not None and waiting:
        succeeded = row.counts.get(ExecutionState.SUCCEEDED.value, 0)
        minutes = waiting / rate.per_minute(row.notified, succeeded)
    return now + timedelta(minutes=minutes, seconds=median)
