"""How many devices a rollout may notify now: a rate per minute that ramps up exponentially as
devices are notified or succeed (AWS IoT Jobs' exponential rollout), applied over a sliding
minute of the notifications already recorded. The window is counted from the recorded
`Notified` times rather than a token bucket in memory, so a restarted orchestrator counts
the same and never bursts. Pure; design: docs/firmware.md section 12.2.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from write_side.errors import InvalidInput

WINDOW = timedelta(minutes=1)
MAX_PER_MINUTE = 10_000


class RampCriterion(StrEnum):
    NOTIFIED = "NOTIFIED"
    SUCCEEDED = "SUCCEEDED"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """`base_per_minute` at first, times `increase_factor` for every `increase_every` devices
    notified (or succeeded), up to `max_per_minute`; a factor of 1 is a flat rate."""

    base_per_minute: int
    max_per_minute: int | None = None  # None: the base, no ramp
    increase_factor: float = 1.0
    increase_every: int = 1
    criterion: RampCriterion = RampCriterion.NOTIFIED

    def __post_init__(self) -> None:
        if not 1 <= self.base_per_minute <= MAX_PER_MINUTE:
            raise InvalidInput(f"the base rate is 1..{MAX_PER_MINUTE}", "rate.basePerMinute")
        if self.max_per_minute is not None and not (
            self.base_per_minute <= self.max_per_minute <= MAX_PER_MINUTE
        ):
            raise InvalidInput(
                f"the maximum rate is the base rate..{MAX_PER_MINUTE}", "rate.maxPerMinute"
            )
        if not 1.0 <= self.increase_factor <= 5.0:
            raise InvalidInput("the increase factor is 1..5", "rate.increaseFactor")
        if self.increase_every < 1:
            raise InvalidInput("the increase step is at least 1 device", "rate.increaseEvery")

    def per_minute(self, notified: int, succeeded: int) -> int:
        """The rate now, after `notified` devices were notified and `succeeded` succeeded."""
        top = self.max_per_minute or self.base_per_minute
        count = notified if self.criterion is RampCriterion.NOTIFIED else succeeded
        steps = count // self.increase_every
        if self.increase_factor == 1.0 or steps == 0:
            return min(top, self.base_per_minute)
        # Past the cap the exact power does not matter (and could overflow a float).
        if steps * math.log(self.increase_factor) >= math.log(top / self.base_per_minute):
            return top
        return min(top, math.floor(self.base_per_minute * self.increase_factor**steps))


def free_slots(rate: int, now: datetime, recent: Sequence[datetime]) -> int:
    """How many more devices may be notified at `now`, given the notification times `recent`
    (sorted, oldest first): `rate` minus those within the last minute."""
    return max(0, rate - _in_window(now, recent))


def next_slot(rate: int, now: datetime, recent: Sequence[datetime]) -> datetime:
    """When the next device may be notified: `now` if a slot is free, else when enough of the
    last minute's notifications have left the window."""
    inside = _in_window(now, recent)
    if inside < rate:
        return now
    first_inside = bisect.bisect_right(recent, now - WINDOW)
    return recent[first_inside + inside - rate] + WINDOW  # then fewer than `rate` remain


def _in_window(now: datetime, recent: Sequence[datetime]) -> int:
    """Notifications in (now - 1 minute, now]."""
    return bisect.bisect_right(recent, now) - bisect.bisect_right(recent, now - WINDOW)
