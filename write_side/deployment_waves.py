"""A rollout's waves: who is in which wave, and what a wave's tally decides.

Membership is drawn from a seed recorded with the deployment: targets are ordered by SHA-256 of
`"{seed}:{device_id}"` and cut at the waves' cumulative sizes, so the same seed always gives the
same plan (an operator can be shown why a device went first) while no device is favoured.
Spread over a group (a site), each group is cut on its own, so every wave takes its share of
every site. A device that joins a dynamic target later is placed by its own hash point and
never into a wave already finished. Pure; design: docs/firmware.md section 12.2.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from write_side.errors import InvalidInput

MAX_WAVES = 20
MAX_SOAK = timedelta(days=7)


class FailureAction(StrEnum):
    PAUSE = "PAUSE"
    ABORT = "ABORT"


class Verdict(StrEnum):
    WAIT = "WAIT"  # neither threshold reached yet
    PROMOTE = "PROMOTE"  # the success threshold is reached: soak, then the next wave
    PAUSE = "PAUSE"
    ABORT = "ABORT"


@dataclass(frozen=True, slots=True)
class WaveSpec:
    """One wave. Every wave but the last has a size (all `percent` or all `count`); the last
    takes the rest. Failures count final ones only (no retry left, timed out, rejected,
    rolled back)."""

    percent: float | None = None
    count: int | None = None
    success_percent: float = 95.0
    failure_count: int | None = None
    failure_percent: float | None = None
    on_failure: FailureAction = FailureAction.PAUSE
    approval: bool = False
    soak: timedelta = timedelta(0)


def check_waves(waves: Sequence[WaveSpec], *, spread: bool = False) -> None:
    """InvalidInput naming the wave's field for any plan that cannot be followed."""
    if not 1 <= len(waves) <= MAX_WAVES:
        raise InvalidInput(f"a deployment has 1..{MAX_WAVES} waves", "waves")
    for index, wave in enumerate(waves):
        _check_wave(wave, f"waves[{index}]", last=index == len(waves) - 1)
    sized = waves[:-1]
    if any(w.count is not None for w in sized) and any(w.percent is not None for w in sized):
        raise InvalidInput("waves are sized all by percent or all by count", "waves")
    if sum(w.percent or 0.0 for w in sized) > 100:
        raise InvalidInput("the waves' percentages add up to more than 100", "waves")
    if spread and any(w.count is not None for w in sized):
        raise InvalidInput("spreading over a group needs percentage waves", "spreadBy")


def _check_wave(wave: WaveSpec, where: str, *, last: bool) -> None:
    if last and (wave.percent is not None or wave.count is not None):
        raise InvalidInput("the last wave takes the rest: it has no size", f"{where}.size")
    if not last and (wave.percent is None) == (wave.count is None):
        raise InvalidInput("a wave has a percent or a count", f"{where}.size")
    if wave.percent is not None and not 0 < wave.percent <= 100:
        raise InvalidInput("a wave's percent is in (0, 100]", f"{where}.percent")
    if wave.count is not None and wave.count < 1:
        raise InvalidInput("a wave's count is at least 1", f"{where}.count")
    if not 0 < wave.success_percent <= 100:
        raise InvalidInput("the success threshold is in (0, 100]", f"{where}.successPercent")
    if wave.failure_count is not None and wave.failure_percent is not None:
        raise InvalidInput("a failure threshold is a count or a percent", f"{where}.failure")
    if wave.failure_count is not None and wave.failure_count < 1:
        raise InvalidInput("the failure count is at least 1", f"{where}.failureCount")
    if wave.failure_percent is not None and not 0 < wave.failure_percent <= 100:
        raise InvalidInput("the failure percent is in (0, 100]", f"{where}.failurePercent")
    if not timedelta(0) <= wave.soak <= MAX_SOAK:
        raise InvalidInput("a soak lasts 0 to 7 days", f"{where}.soakSeconds")


def hash_point(seed: int, device_id: str) -> float:
    """The device's place in [0, 1) under `seed`."""
    digest = hashlib.sha256(f"{seed}:{device_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_waves(
    seed: int, devices: Mapping[str, Hashable], waves: Sequence[WaveSpec]
) -> dict[str, int]:
    """Each device's wave. `devices` maps a device id to its group (one value for all when the
    plan is not spread); each group is ordered by hash point and cut on its own."""
    groups: defaultdict[Hashable, list[str]] = defaultdict(list)
    for device_id, group in devices.items():
        groups[group].append(device_id)
    plan: dict[str, int] = {}
    for members in groups.values():
        ordered = sorted(members, key=lambda d: (hash_point(seed, d), d))
        bounds = _bounds(len(ordered), waves)
        for rank, device_id in enumerate(ordered):
            plan[device_id] = next(i for i, bound in enumerate(bounds) if rank < bound)
    return plan


def place_late(seed: int, device_id: str, waves: Sequence[WaveSpec], current: int) -> int:
    """The wave of a device that joins after the plan was made: by its hash point for
    percentage waves, never before the wave now running (`current`)."""
    if any(w.count is not None for w in waves):
        return current
    point, cumulative = hash_point(seed, device_id), 0.0
    for index, wave in enumerate(waves[:-1]):
        cumulative += (wave.percent or 0.0) / 100
        if point < cumulative:
            return max(index, current)
    return len(waves) - 1


def _bounds(n: int, waves: Sequence[WaveSpec]) -> list[int]:
    """The exclusive end rank of each wave among `n` devices; the last is `n`."""
    bounds, taken, percent = [], 0, 0.0
    for wave in waves[:-1]:
        if wave.count is not None:
            taken += wave.count
        else:
            percent += wave.percent or 0.0
            taken = round(n * percent / 100)
        bounds.append(min(taken, n))
    return [*bounds, n]


@dataclass(frozen=True, slots=True)
class WaveTally:
    """A wave's executions by outcome; `failed` counts final failures only."""

    members: int
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0

    def __post_init__(self) -> None:
        if min(self.members, self.succeeded, self.failed, self.canceled) < 0 or self.active < 0:
            raise ValueError(f"an inconsistent tally: {self}")

    @property
    def active(self) -> int:
        """Still able to succeed: queued, running or failed with a retry pending."""
        return self.members - self.succeeded - self.failed - self.canceled


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


def judge_wave(tally: WaveTally, wave: WaveSpec) -> Judgement:
    """The failure threshold first (safety before speed), then promotion, then a success
    threshold that can no longer be reached (pause: someone must look), else wait."""
    needed = math.ceil(tally.members * wave.success_percent / 100)
    evidence = {
        "members": tally.members,
        "succeeded": tally.succeeded,
        "failed": tally.failed,
        "canceled": tally.canceled,
        "needed": needed,
    }
    if _failures_over(tally, wave):
        verdict = Verdict.ABORT if wave.on_failure is FailureAction.ABORT else Verdict.PAUSE
        return Judgement(verdict, "failure_threshold", evidence)
    if tally.succeeded >= needed:
        return Judgement(Verdict.PROMOTE, "success_threshold", evidence)
    if tally.succeeded + tally.active < needed:
        return Judgement(Verdict.PAUSE, "success_unreachable", evidence)
    return Judgement(Verdict.WAIT, "running", evidence)


def _failures_over(tally: WaveTally, wave: WaveSpec) -> bool:
    if tally.failed == 0:
        return False
    if wave.failure_count is not None:
        return tally.failed >= wave.failure_count
    if wave.failure_percent is not None:
        return tally.failed * 100 >= wave.failure_percent * tally.members
    return False
