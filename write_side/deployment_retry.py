"""Stall timeouts and retries with exponential backoff for deployment executions.

Pure: the due times are computed from the time of the input that sets them, and the jitter of
a backoff is drawn from a hash of the execution and the attempt instead of a random generator,
so a replay of the same events decides the same due times (a restarted orchestrator must not
move a timer). Design: docs/firmware.md section 12.3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from write_side.deployment_states import ExecutionState, FailureKind
from write_side.errors import InvalidInput

MAX_RETRIES_PER_KIND = 10
DEFAULT_RETRIES: Mapping[FailureKind, int] = MappingProxyType(
    {
        FailureKind.DOWNLOAD: 3,
        FailureKind.VERIFY: 1,
        FailureKind.INSTALL: 1,
        FailureKind.STALLED: 2,
        FailureKind.OTHER: 1,
    }
)


@dataclass(frozen=True, slots=True)
class StallTimeouts:
    """How long an execution may stay in a state without an update from the device."""

    notified: timedelta = timedelta(hours=24)
    downloading: timedelta = timedelta(minutes=30)  # without progress
    downloaded: timedelta = timedelta(hours=1)
    installing: timedelta = timedelta(hours=1)  # also after the device said "done"

    def __post_init__(self) -> None:
        for name in ("notified", "downloading", "downloaded", "installing"):
            if getattr(self, name) <= timedelta(0):
                raise InvalidInput("a stall timeout must be positive", f"stallTimeouts.{name}")

    def deadline(self, state: ExecutionState, at: datetime) -> datetime | None:
        """When an execution entering (or progressing in) `state` at `at` has stalled."""
        after = {
            ExecutionState.NOTIFIED: self.notified,
            ExecutionState.DOWNLOADING: self.downloading,
            ExecutionState.DOWNLOADED: self.downloaded,
            ExecutionState.INSTALLING: self.installing,
        }.get(state)
        return None if after is None else at + after


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries per failure kind; the n-th retry waits `min(max, base * factor ** (n - 1))`,
    scaled by a jitter in [0.5, 1] so that a wave's failures do not retry in lockstep."""

    max_retries: Mapping[FailureKind, int] = field(default_factory=lambda: DEFAULT_RETRIES)
    base: timedelta = timedelta(seconds=60)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        for kind, count in self.max_retries.items():
            if not 0 <= count <= MAX_RETRIES_PER_KIND:
                raise InvalidInput(
                    f"retries are 0..{MAX_RETRIES_PER_KIND}", f"retry.maxRetries.{kind}"
                )
        if self.base <= timedelta(0):
            raise InvalidInput("the base delay must be positive", "retry.baseSeconds")
        if not 1.0 <= self.factor <= 10.0:
            raise InvalidInput("the factor is 1..10", "retry.factor")
        if self.max_delay < self.base:
            raise InvalidInput("the maximum delay is at least the base", "retry.maxSeconds")

    def allows(self, kind: FailureKind, failures_so_far: int) -> bool:
        """Whether a failure of `kind`, after `failures_so_far` earlier ones, is retried."""
        return failures_so_far < self.max_retries.get(kind, 0)

    def delay(self, key: str, retry: int) -> timedelta:
        """The wait before the `retry`-th retry (1, 2, ...) of the execution `key`."""
        exponent = min(retry - 1, 64)  # past that the cap applies anyway
        raw = min(self.max_delay.total_seconds(), self.base.total_seconds() * self.factor**exponent)
        return timedelta(seconds=raw * (0.5 + 0.5 * _unit(f"{key}/{retry}")))


def _unit(text: str) -> float:
    """A number in [0, 1) drawn from `text`: the same text, the same number."""
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
