"""Commands of the deployments slice (docs/firmware.md sections 12.2, 12.5 and 12.8): create a
deployment, approve a wave, pause, resume, cancel, finish; a device's job update and a reported
version.

`CreateDeployment` takes the API's spelling (camelCase aliases) and checks itself by building
the domain's `Target` and `DeploymentPlan` (`write_side/deployment_plan.py`, whose checks name
the field as the API spells it: `waves[1].successPercent`); `parse_create_deployment` turns a
pydantic type error into the same `InvalidInput` with the full path. Nothing is recorded for
bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import timedelta
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from write_side.commands import Command, Name
from write_side.deployment_execution import MAX_REASON, DeviceUpdate, ExecutionPolicy
from write_side.deployment_health import HealthGate
from write_side.deployment_plan import DeploymentPlan, OnExecutionFailure, RollbackPolicy
from write_side.deployment_rate import RampCriterion, RateLimit
from write_side.deployment_retry import DEFAULT_RETRIES, RetryPolicy, StallTimeouts
from write_side.deployment_states import FailureKind, UpdateStatus
from write_side.deployment_target import Target, TargetFilter
from write_side.deployment_waves import FailureAction, WaveSpec
from write_side.deployment_windows import parse_window
from write_side.errors import InvalidInput

Version = Annotated[int, Field(ge=1)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
FirmwareVersion = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Input(Command):
    """A part of an input, spelled as the API spells it (camelCase; snake_case accepted)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


def _default(domain: type, name: str) -> Any:
    """The default of a domain value's field, so an input repeats no default of the domain's
    (a wave's `success_percent` is declared once, in `WaveSpec`)."""
    return next(f.default for f in fields(domain) if f.name == name)


class FilterInput(Input):
    """`TargetFilter`'s fields; its checks (lifecycle, lengths, not empty) are the domain's."""

    lifecycle: str | None = None
    device_type: str | None = None
    tag: str | None = None
    name_contains: str | None = None
    firmware_versions: tuple[str, ...] = ()


class TargetInput(Input):
    device_ids: tuple[UUID, ...] = ()
    tags: tuple[str, ...] = ()
    device_types: tuple[str, ...] = ()
    dynamic: bool = False
    filter: FilterInput | None = None


class WaveInput(Input):
    percent: float | None = None
    count: int | None = None
    success_percent: float = _default(WaveSpec, "success_percent")
    failure_count: int | None = None
    failure_percent: float | None = None
    on_failure: FailureAction = _default(WaveSpec, "on_failure")
    approval: bool = _default(WaveSpec, "approval")
    soak_seconds: int = int(_default(WaveSpec, "soak").total_seconds())


class RateInput(Input):
    base_per_minute: int
    max_per_minute: int | None = None
    increase_factor: float = _default(RateLimit, "increase_factor")
    increase_every: int = _default(RateLimit, "increase_every")
    criterion: RampCriterion = _default(RateLimit, "criterion")


class WindowInput(Input):
    start: str
    end: str
    days: tuple[int, ...] | None = None


class HealthGateInput(Input):
    metric: str
    higher_is_better: bool = _default(HealthGate, "higher_is_better")
    metric_margin_percent: float = _default(HealthGate, "metric_margin_percent")
    alert_margin_percent: float = _default(HealthGate, "alert_margin_percent")
    min_devices: int = _default(HealthGate, "min_devices")


class StallTimeoutsInput(Input):
    """Seconds per state; a state left out keeps its default."""

    notified: int | None = None
    downloading: int | None = None
    downloaded: int | None = None
    installing: int | None = None


class RetryInput(Input):
    max_retries: dict[FailureKind, int] = Field(default_factory=dict)  # others: the defaults
    base_seconds: float = 60.0
    factor: float = 2.0
    max_seconds: float = 3600.0


class CreateDeployment(Input):
    name: Name
    firmware_id: UUID
    target: TargetInput
    waves: tuple[WaveInput, ...] = (WaveInput(),)
    seed: int | None = None  # None: the service draws one
    spread_by: str | None = None
    rate: RateInput | None = None
    start_at: AwareDatetime | None = None
    windows: tuple[WindowInput, ...] = ()
    default_time_zone: str = "UTC"
    stall_timeouts: StallTimeoutsInput = StallTimeoutsInput()
    retry: RetryInput = RetryInput()
    on_execution_failure: OnExecutionFailure = OnExecutionFailure.LEAVE
    revert_succeeded_on_abort: bool = False
    health_gate: HealthGateInput | None = None

    @model_validator(mode="after")
    def _checked(self) -> Self:
        """The domain's checks, now (InvalidInput is not a ValueError: it passes through)."""
        self.to_target()
        self.to_plan(self.seed if self.seed is not None else 0)
        return self

    def to_target(self) -> Target:
        t = self.target
        given = None if t.filter is None else TargetFilter(**t.filter.model_dump())
        return Target(tuple(map(str, t.device_ids)), t.tags, t.device_types, t.dynamic, given)

    def to_plan(self, seed: int) -> DeploymentPlan:
        return DeploymentPlan(
            seed=seed,
            waves=tuple(_wave(w) for w in self.waves),
            spread_by=self.spread_by,
            rate=None if self.rate is None else RateLimit(**self.rate.model_dump()),
            start_at=self.start_at,
            windows=tuple(
                parse_window(w.start, w.end, w.days, f"windows[{i}]")
                for i, w in enumerate(self.windows)
            ),
            default_time_zone=self.default_time_zone,
            execution=ExecutionPolicy(_timeouts(self.stall_timeouts), _retry(self.retry)),
            rollback=RollbackPolicy(self.on_execution_failure, self.revert_succeeded_on_abort),
            health_gate=None if self.health_gate is None else _gate(self.health_gate),
        )


def parse_create_deployment(data: Mapping[str, Any]) -> CreateDeployment:
    """For the API: a checked command, or `InvalidInput` naming the first bad field with its
    full path as the API spells it (`waves[1].successPercent`)."""
    try:
        return CreateDeployment.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        field = path.removeprefix(".") or None
        raise InvalidInput(f"{field or 'deployment'}: {first['msg']}", field) from None


def _wave(w: WaveInput) -> WaveSpec:
    return WaveSpec(
        w.percent,
        w.count,
        w.success_percent,
        w.failure_count,
        w.failure_percent,
        w.on_failure,
        w.approval,
        timedelta(seconds=w.soak_seconds),
    )


def _timeouts(given: StallTimeoutsInput) -> StallTimeouts:
    seconds = {k: timedelta(seconds=v) for k, v in given.model_dump().items() if v is not None}
    return StallTimeouts(**seconds)


def _retry(given: RetryInput) -> RetryPolicy:
    return RetryPolicy(
        {**DEFAULT_RETRIES, **given.max_retries},
        timedelta(seconds=given.base_seconds),
        given.factor,
        timedelta(seconds=given.max_seconds),
    )


def _gate(given: HealthGateInput) -> HealthGate:
    return HealthGate(**given.model_dump())


class ApproveWave(Command):
    deployment_id: UUID
    wave: int = Field(ge=0)
    expected_version: Version | None = None


class PauseDeployment(Command):
    deployment_id: UUID
    expected_version: Version | None = None
    reason: Reason | None = None


class ResumeDeployment(PauseDeployment):
    pass


class CancelDeployment(PauseDeployment):
    pass


class FinishDeployment(PauseDeployment):
    """End a dynamic deployment: no new device, Completed once no install is active."""


class ReportUpdate(Command):
    """A device's job update (12.5); `device_id` comes from its credential, never the body."""

    device_id: UUID
    execution_id: UUID
    seq: int = Field(ge=1)
    status: UpdateStatus
    percent: int | None = Field(default=None, ge=0, le=100)
    version: FirmwareVersion | None = None
    kind: FailureKind | None = None
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON)] | None = None
    at: AwareDatetime

    @model_validator(mode="after")
    def _kind(self) -> Self:
        if self.kind is not None and self.status is not UpdateStatus.FAILED:
            raise InvalidInput("a failure kind goes with status failed", "kind")
        if self.kind is FailureKind.STALLED:
            raise InvalidInput("a device does not report a stall", "kind")
        return self

    def to_update(self) -> DeviceUpdate:
        return DeviceUpdate(
            self.seq, self.status, self.at, self.percent, self.version, self.kind, self.reason
        )


class ObserveVersion(Command):
    """A firmware version the device reported in telemetry (`firmware_version`)."""

    device_id: UUID
    version: FirmwareVersion
    at: AwareDatetime
