"""How a deployment rolls out, as one value checked once and recorded in `Deployment.Created`
as JSON values (docs/firmware.md sections 12.2 and 12.6); what it targets is
`write_side.deployment_target`'s.

`DeploymentPlan.from_payload` rebuilds the plan when the aggregate is loaded, which re-runs the
checks of its parts: a rule tightened later needs an upcaster for the events recorded before.
Bad input raises InvalidInput naming the field as the API spells it (`waves[1].successPercent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from write_side.deployment_execution import ExecutionPolicy
from write_side.deployment_health import HealthGate
from write_side.deployment_rate import RampCriterion, RateLimit
from write_side.deployment_retry import RetryPolicy, StallTimeouts
from write_side.deployment_states import FailureKind
from write_side.deployment_waves import FailureAction, WaveSpec, check_waves
from write_side.deployment_windows import MaintenanceWindow, check_windows, parse_window, zone_named
from write_side.errors import InvalidInput

STALL_STATES = ("notified", "downloading", "downloaded", "installing")


class OnExecutionFailure(StrEnum):
    REVERT = "REVERT"  # tell a device whose install failed to go back
    LEAVE = "LEAVE"


@dataclass(frozen=True, slots=True)
class RollbackPolicy:
    on_execution_failure: OnExecutionFailure = OnExecutionFailure.LEAVE
    revert_succeeded_on_abort: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    seed: int  # the wave membership's seed, recorded so the plan can be explained
    waves: tuple[WaveSpec, ...] = (WaveSpec(),)
    spread_by: str | None = None
    rate: RateLimit | None = None  # None: no limit
    start_at: datetime | None = None  # None: at once
    windows: tuple[MaintenanceWindow, ...] = ()
    default_time_zone: str = "UTC"
    execution: ExecutionPolicy = field(default_factory=ExecutionPolicy)
    rollback: RollbackPolicy = field(default_factory=RollbackPolicy)
    health_gate: HealthGate | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise InvalidInput("the seed is 0..2^63-1", "seed")
        if self.spread_by is not None and not 1 <= len(self.spread_by) <= 64:
            raise InvalidInput("a spread key has 1..64 characters", "spreadBy")
        check_waves(self.waves, spread=self.spread_by is not None)
        check_windows(self.windows)
        zone_named(self.default_time_zone, "defaultTimeZone")
        if self.start_at is not None and self.start_at.tzinfo is None:
            raise InvalidInput("a start time has a time zone", "startAt")

    def to_payload(self) -> dict[str, Any]:
        retry, timeouts = self.execution.retry, self.execution.timeouts
        return {
            "seed": self.seed,
            "waves": [_wave_payload(w) for w in self.waves],
            "spread_by": self.spread_by,
            "rate": None if self.rate is None else _rate_payload(self.rate),
            "start_at": None if self.start_at is None else self.start_at.isoformat(),
            "windows": [_window_payload(w) for w in self.windows],
            "default_time_zone": self.default_time_zone,
            "stall_timeouts": {s: int(getattr(timeouts, s).total_seconds()) for s in STALL_STATES},
            "retry": {
                "max_retries": {str(k): n for k, n in retry.max_retries.items()},
                "base_s": retry.base.total_seconds(),
                "factor": retry.factor,
                "max_s": retry.max_delay.total_seconds(),
            },
            "rollback": {
                "on_execution_failure": str(self.rollback.on_execution_failure),
                "revert_succeeded_on_abort": self.rollback.revert_succeeded_on_abort,
            },
            "health_gate": None if self.health_gate is None else _gate_payload(self.health_gate),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> DeploymentPlan:
        retry, rollback, gate = payload["retry"], payload["rollback"], payload["health_gate"]
        return cls(
            seed=payload["seed"],
            waves=tuple(_wave(w) for w in payload["waves"]),
            spread_by=payload["spread_by"],
            rate=None if payload["rate"] is None else _rate(payload["rate"]),
            start_at=_time(payload["start_at"]),
            windows=tuple(
                parse_window(w["start"], w["end"], w["days"], f"windows[{i}]")
                for i, w in enumerate(payload["windows"])
            ),
            default_time_zone=payload["default_time_zone"],
            execution=ExecutionPolicy(
                StallTimeouts(
                    **{s: timedelta(seconds=payload["stall_timeouts"][s]) for s in STALL_STATES}
                ),
                RetryPolicy(
                    {FailureKind(k): n for k, n in retry["max_retries"].items()},
                    timedelta(seconds=retry["base_s"]),
                    retry["factor"],
                    timedelta(seconds=retry["max_s"]),
                ),
            ),
            rollback=RollbackPolicy(
                OnExecutionFailure(rollback["on_execution_failure"]),
                rollback["revert_succeeded_on_abort"],
            ),
            health_gate=None if gate is None else HealthGate(**gate),
        )


def _wave_payload(wave: WaveSpec) -> dict[str, Any]:
    return {
        "percent": wave.percent,
        "count": wave.count,
        "success_percent": wave.success_percent,
        "failure_count": wave.failure_count,
        "failure_percent": wave.failure_percent,
        "on_failure": str(wave.on_failure),
        "approval": wave.approval,
        "soak_s": wave.soak.total_seconds(),
    }


def _wave(payload: Mapping[str, Any]) -> WaveSpec:
    return WaveSpec(
        percent=payload["percent"],
        count=payload["count"],
        success_percent=payload["success_percent"],
        failure_count=payload["failure_count"],
        failure_percent=payload["failure_percent"],
        on_failure=FailureAction(payload["on_failure"]),
        approval=payload["approval"],
        soak=timedelta(seconds=payload["soak_s"]),
    )


def _rate_payload(rate: RateLimit) -> dict[str, Any]:
    return {
        "base_per_minute": rate.base_per_minute,
        "max_per_minute": rate.max_per_minute,
        "increase_factor": rate.increase_factor,
        "increase_every": rate.increase_every,
        "criterion": str(rate.criterion),
    }


def _rate(payload: Mapping[str, Any]) -> RateLimit:
    return RateLimit(**{**payload, "criterion": RampCriterion(payload["criterion"])})


def _window_payload(window: MaintenanceWindow) -> dict[str, Any]:
    days = None if window.days is None else sorted(window.days)
    return {
        "start": window.start.strftime("%H:%M"),
        "end": window.end.strftime("%H:%M"),
        "days": days,
    }


def _gate_payload(gate: HealthGate) -> dict[str, Any]:
    return {
        "metric": gate.metric,
        "higher_is_better": gate.higher_is_better,
        "metric_margin_percent": gate.metric_margin_percent,
        "alert_margin_percent": gate.alert_margin_percent,
        "min_devices": gate.min_devices,
    }


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
