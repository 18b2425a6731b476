"""A deployment, its waves and decisions, and its per-device executions with their history as
both API adapters show them: declared once, here (issue 11, item 1), beside
`api.firmware_view` (the state enums).

`DeploymentPublic` and `ExecutionPublic` are the REST response models; the GraphQL
`Deployment` and `Execution` types are derived from them and add what reads more with
resolvers (`Deployment.firmware`, `Deployment.executions`, `Execution.device`,
`Execution.history`, in `api.graphql.firmware_types`). Counts per state are lists of
`StateCount`, in the states' order, only the states with executions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from api.device_view import View
from api.firmware_view import DeploymentStatus, ExecutionState
from read_side.deployments.eta import eta as estimated_end
from read_side.deployments.row import (
    DecisionRow,
    DeploymentRow,
    ExecutionRow,
    TransitionRow,
    WaveRow,
)


class StateCountPublic(View):
    state: ExecutionState
    count: int


def state_counts(counts: Mapping[str, int]) -> list[StateCountPublic]:
    """The counts keyed by state value, as shown: in the states' order, zeros left out."""
    return [
        StateCountPublic(state=state, count=counts[state.value])
        for state in ExecutionState
        if counts.get(state.value, 0) > 0
    ]


class DeploymentWavePublic(View):
    index: int
    members: int = Field(description="Devices in the wave (0 until it starts).")
    counts: list[StateCountPublic]
    approval: bool = Field(description="Whether the wave waits for a person's approval.")
    approved_by: str | None
    started_at: datetime | None
    soak_until: datetime | None
    promoted_at: datetime | None

    @classmethod
    def from_row(cls, row: WaveRow) -> DeploymentWavePublic:
        return cls(
            index=row.index,
            members=row.members or 0,
            counts=state_counts(row.counts),
            approval=row.approval,
            approved_by=row.approved_by,
            started_at=row.started_at,
            soak_until=row.soak_until,
            promoted_at=row.promoted_at,
        )


class DeploymentDecisionPublic(View):
    kind: str = Field(description="What was decided: started, wave_promoted, paused, ...")
    wave: int | None
    by: str = Field(description="Who decided: a user, or the orchestrator.")
    reason: str | None
    evidence: dict[str, Any] = Field(description="The figures the decision rests on.")
    at: datetime

    @classmethod
    def from_row(cls, row: DecisionRow) -> DeploymentDecisionPublic:
        return cls(
            kind=row.kind,
            wave=row.wave,
            by=row.by,
            reason=row.reason,
            evidence=dict(row.evidence or {}),
            at=row.at,
        )


class DeploymentPublic(View):
    id: UUID
    name: str
    firmware_id: UUID = Field(description="The release it installs.")
    status: DeploymentStatus
    finishing: bool = Field(
        description="A person finished this dynamic deployment: it takes no new device and "
        "completes once no install is active."
    )
    current_wave: int | None = Field(description="The wave running, or the last started.")
    waves: list[DeploymentWavePublic]
    counts: list[StateCountPublic] = Field(description="Executions per state, all waves.")
    targets: int = Field(description="Devices targeted (0 until it starts).")
    decisions: list[DeploymentDecisionPublic] = Field(description="Oldest first.")
    eta: datetime | None = Field(description="When it should finish, at the current rate.")
    seed: str = Field(description="The seed of the waves' membership.")
    plan: dict[str, Any] = Field(description="The plan as recorded when it was created.")
    created_by: str
    created_at: datetime
    version: int = Field(description="The deployment's version, for expectedVersion.")

    @classmethod
    def from_row(cls, row: DeploymentRow, now: datetime | None = None) -> DeploymentPublic:
        """The deployment as shown, from a read-model row (or one built from the aggregate a
        command saved): the one place a deployment row becomes output. The ETA is estimated
        at `now` (the current time by default) from the row alone."""
        return cls(
            id=row.deployment_id,
            name=row.name,
            firmware_id=row.firmware_id,
            status=DeploymentStatus(row.status.value),
            finishing=row.finishing,
            current_wave=row.current_wave,
            waves=[DeploymentWavePublic.from_row(wave) for wave in row.waves],
            counts=state_counts(row.counts),
            targets=row.targets,
            decisions=[DeploymentDecisionPublic.from_row(d) for d in row.decisions],
            eta=estimated_end(row, now or datetime.now(UTC)),
            seed=str(row.seed),
            plan=dict(row.plan),
            created_by=row.created_by,
            created_at=row.created_at,
            version=row.version,
        )


class ExecutionTransitionPublic(View):
    start: ExecutionState | None = Field(
        alias="from", description="The state before; null for the first (queued)."
    )
    to: ExecutionState = Field(description="The state after (the same for progress).")
    event: str = Field(description="What happened: queued, notified, advanced, failed, ...")
    reason: str = Field(description="Why (the event's kind when it gives no reason).")
    seq: int | None = Field(description="The device update's sequence number, if any.")
    at: datetime

    @classmethod
    def from_row(cls, row: TransitionRow) -> ExecutionTransitionPublic:
        return cls.model_validate(
            {
                "from": None if row.from_state is None else ExecutionState(row.from_state.value),
                "to": ExecutionState(row.to_state.value),
                "event": row.event,
                "reason": row.reason or row.event,
                "seq": row.seq,
                "at": row.at,
            }
        )


class ExecutionPublic(View):
    id: UUID
    deployment_id: UUID
    device_id: UUID
    wave: int
    purpose: str = Field(description="install, or revert.")
    state: ExecutionState
    attempt: int = Field(description="Notifications so far (0 until first notified).")
    reason: str | None = Field(description="Why it is in its state, if known.")
    from_version: str | None
    reported_version: str | None
    percent: int | None = Field(description="The device's last reported progress.")
    retry_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: ExecutionRow) -> ExecutionPublic:
        """The execution as shown, from a read-model row."""
        same = {name: getattr(row, name) for name in cls.model_fields if hasattr(row, name)}
        shown = {"id": row.execution_id, "state": ExecutionState(row.state.value)}
        return cls.model_validate(same | shown)
