"""A new deployment as both API adapters take it (`POST /firmware/deployments`,
`createDeployment`): declared once, here, as the planned SDL of docs/firmware.md 12.8 spells it.

The shape carries types only; the domain checks the values. `command` hands the fields given
to `write_side.deployment_commands.parse_create_deployment`, which builds the target and the
plan and names a field at fault as both wires spell it (`waves[1].successPercent`,
`windows[0].start`), so REST's 422 and GraphQL's BAD_USER_INPUT name the same field and nothing
is stored. Defaults are the command's (never repeated here): a field left out, or null, is
left out of the command. The enums are plain `Enum`s made from the domain's."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from api.firmware_view import mirrored
from api.inputs import Input
from write_side import deployment_plan, deployment_rate, deployment_waves
from write_side.deployment_commands import (
    CreateDeployment,
    HealthGateInput,
    RateInput,
    WaveInput,
    parse_create_deployment,
)

if TYPE_CHECKING:  # as `api.firmware_view`'s enums: mypy sees the domain's (equal) members
    from write_side.deployment_plan import OnExecutionFailure
    from write_side.deployment_rate import RampCriterion
    from write_side.deployment_waves import FailureAction
else:
    FailureAction = mirrored(deployment_waves.FailureAction)
    RampCriterion = mirrored(deployment_rate.RampCriterion)
    OnExecutionFailure = mirrored(deployment_plan.OnExecutionFailure)


def default(model: type[BaseModel], name: str) -> Any:
    """The command's default for the field, so none is repeated here."""
    value = model.model_fields[name].get_default(call_default_factory=True)
    if hasattr(value, "name") and hasattr(value, "value"):  # a domain enum: the API's member
        return {
            "on_failure": FailureAction,
            "criterion": RampCriterion,
            "on_execution_failure": OnExecutionFailure,
        }[name][value.name]
    return value


class DeploymentFilterBody(Input):
    """The `devices` query's criteria (all of those given), and the versions reported."""

    lifecycle: str | None = Field(
        default=None, description="active (decommissioned devices are never targeted)."
    )
    device_type: str | None = None
    tag: str | None = None
    name_contains: str | None = Field(default=None, description="Case-insensitive, 1..120.")
    firmware_versions: list[str] | None = Field(
        default=None, description="Devices last reporting one of these exact versions."
    )


class DeploymentTargetBody(Input):
    """A device is targeted if it is one of `deviceIds`, OR has one of `tags`, OR is of one of
    `deviceTypes`, OR matches `filter`."""

    device_ids: list[UUID] | None = None
    tags: list[str] | None = Field(default=None, description="Devices with any of these tags.")
    device_types: list[str] | None = None
    filter: DeploymentFilterBody | None = None
    dynamic: bool = Field(default=False, description="Devices that join later are targeted too.")


class WaveBody(Input):
    percent: float | None = Field(default=None, description="The wave's share of the targets.")
    count: int | None = Field(default=None, description="The wave's devices (or `percent`).")
    success_percent: float = default(WaveInput, "success_percent")
    failure_count: int | None = None
    failure_percent: float | None = None
    on_failure: FailureAction = default(WaveInput, "on_failure")
    approval: bool = Field(
        default=default(WaveInput, "approval"), description="A person approves its start."
    )
    soak_seconds: int = default(WaveInput, "soak_seconds")


class RateBody(Input):
    base_per_minute: int
    max_per_minute: int | None = None
    increase_factor: float = default(RateInput, "increase_factor")
    increase_every: int = default(RateInput, "increase_every")
    criterion: RampCriterion = default(RateInput, "criterion")


class WindowBody(Input):
    start: str = Field(description="Local time of day, HH:MM.")
    end: str = Field(description="Local time of day, HH:MM.")
    days: list[int] | None = Field(default=None, description="ISO weekdays (1 = Monday).")


class HealthGateBody(Input):
    metric: str
    higher_is_better: bool = default(HealthGateInput, "higher_is_better")
    metric_margin_percent: float = default(HealthGateInput, "metric_margin_percent")
    alert_margin_percent: float = default(HealthGateInput, "alert_margin_percent")
    min_devices: int = default(HealthGateInput, "min_devices")


Seed = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")]


class DeploymentCreate(Input):
    name: str
    firmware_id: UUID = Field(description="The release to install (AVAILABLE).")
    target: DeploymentTargetBody
    waves: list[WaveBody] | None = Field(
        default=None, description="The waves, in order; null means one wave of every target."
    )
    seed: Seed | None = Field(default=None, description="The waves' membership seed (digits).")
    spread_by: str | None = Field(default=None, description="A tag key to spread waves over.")
    rate: RateBody | None = None
    start_at: datetime | None = None
    windows: list[WindowBody] | None = Field(
        default=None, description="Maintenance windows; null means any time."
    )
    default_time_zone: str = default(CreateDeployment, "default_time_zone")
    stall_timeouts: dict[str, int] | None = Field(
        default=None, description="Seconds per state (notified, downloading, ...)."
    )
    retry: dict[str, Any] | None = Field(
        default=None, description="maxRetries per failure kind, baseSeconds, factor, maxSeconds."
    )
    on_execution_failure: OnExecutionFailure = default(CreateDeployment, "on_execution_failure")
    revert_succeeded_on_abort: bool = default(CreateDeployment, "revert_succeeded_on_abort")
    health_gate: HealthGateBody | None = None

    def command(self) -> CreateDeployment:
        """The checked command (`InvalidInput` naming the field at fault)."""
        given = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return parse_create_deployment(given)
