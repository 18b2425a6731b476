"""The deployments model's rows (docs/firmware.md section 12.7): a deployment with its waves,
counts per execution state and decisions (`DeploymentRow`); an execution (`ExecutionRow`) and
its transitions, the history (`TransitionRow`); per device, what fleet compliance needs
(`DeviceComplianceRow`); and the compliance of one device type as a query answers it
(`ComplianceRow`, computed when read, never stored).

Their fields are the stored columns on both stores (derived from the dataclasses by
`read_side.columns`); nested rows, mappings and tuples as JSON text. Counts are keyed by the
`ExecutionState` values. A row fed by one stream is guarded by that stream's `version`; a row
fed by several (a deployment: its own stream and its executions'; a device: its stream, its
telemetry and its executions) by `position`, the highest feed position it absorbed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from write_side.deployment_states import DeploymentStatus, ExecutionState

__all__ = [
    "ComplianceRow",
    "DecisionRow",
    "DeploymentRow",
    "DeploymentStatus",
    "DeviceComplianceRow",
    "ExecutionRow",
    "ExecutionState",
    "TransitionRow",
    "WaveRow",
]


@dataclass(frozen=True)
class WaveRow:
    index: int
    approval: bool  # the plan asks a person's approval before the wave starts
    members: int | None = None  # set when the wave starts
    counts: Mapping[str, int] = field(default_factory=dict)  # its executions per state (value)
    approval_requested_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    started_at: datetime | None = None
    soak_until: datetime | None = None
    health_passed: bool | None = None  # the last health check's verdict
    promoted_at: datetime | None = None


@dataclass(frozen=True)
class DecisionRow:
    """One `Deployment` event after `Created`, as the deployment's decision log shows it."""

    kind: str  # started, wave_approval_requested, wave_approved, wave_started, soak_started,
    # health_checked, wave_promoted, paused, resumed, aborted, canceled, finished, completed
    by: str  # the event's `by`, else its actor
    at: datetime
    wave: int | None = None
    reason: str | None = None
    evidence: Mapping[str, Any] | None = None  # the event's evidence or figures


@dataclass(frozen=True)
class DeploymentRow:
    tenant_id: str
    deployment_id: UUID
    name: str
    firmware_id: UUID
    firmware_version: str
    status: DeploymentStatus
    current_wave: int | None  # the wave running (or the last started)
    target: Mapping[str, Any]  # {device_ids, tags, device_types, dynamic}
    targets: int  # resolved at start (0 before)
    waves: tuple[WaveRow, ...]  # one per planned wave
    counts: Mapping[str, int]  # executions per state (value), all waves
    decisions: tuple[DecisionRow, ...]  # oldest first
    plan: Mapping[str, Any]  # as `Deployment.Created` records it
    seed: int
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    notified: int  # executions notified at least once (the rate ramp's NOTIFIED count)
    success_seconds: Mapping[str, int]  # time from first notification to SUCCEEDED: a
    # histogram, bucket index (text) -> executions (read_side.deployments.eta)
    version: int  # the deployment stream's version absorbed (expectedVersion)
    position: int  # the highest feed position absorbed (the row's guard)
    updated_at: datetime
    paused_from: DeploymentStatus | None = None  # the status a resume returns to

    @property
    def finishing(self) -> bool:
        """A dynamic deployment a person finished: it takes no new device and completes once no
        install is active (read from its decisions, so no column of its own on either store)."""
        return any(d.kind == "finished" for d in self.decisions)


@dataclass(frozen=True)
class ExecutionRow:
    tenant_id: str
    execution_id: UUID
    deployment_id: UUID
    device_id: UUID
    purpose: str  # install | revert
    wave: int
    firmware_id: UUID
    target_version: str
    from_version: str | None
    state: ExecutionState
    attempt: int  # 0 until first notified
    reason: str | None  # why it is in its state: queue reason, failure or cancel reason
    failure_kind: str | None  # the last failure's kind
    not_before: datetime | None  # a queued execution waits until then
    reported_version: str | None
    percent: int | None  # the device's last progress
    seq: int | None  # the last update's sequence number
    stall_deadline: datetime | None
    retry_at: datetime | None
    queued_at: datetime
    notified_at: datetime | None  # the first notification
    finished_at: datetime | None  # when it reached a terminal state
    version: int  # the execution stream's version absorbed (the row's guard)
    position: int  # its feed position
    updated_at: datetime


@dataclass(frozen=True)
class TransitionRow:
    """One event of an execution, the history `executionHistory` shows (oldest first)."""

    tenant_id: str
    execution_id: UUID
    version: int  # the execution stream's version of the event (the history's order)
    deployment_id: UUID
    device_id: UUID
    from_state: ExecutionState | None  # None for the first (`Queued`)
    to_state: ExecutionState  # equal to from_state for progress, a retry or an abandon
    event: str  # the event's kind: queued, notified, advanced, succeeded, failed, ...
    reason: str | None
    seq: int | None
    at: datetime


@dataclass(frozen=True)
class DeviceComplianceRow:
    tenant_id: str
    device_id: UUID
    device_type: str
    reported_version: str | None  # the firmware_version the device last reported
    reported_at: datetime | None
    last_failed_execution: UUID | None  # its last execution, if it ended in a final failure
    last_failed_at: datetime | None
    position: int  # the highest feed position absorbed (the row's guard)
    updated_at: datetime


@dataclass(frozen=True)
class ComplianceRow:
    """One device type's compliance, computed when read from the device rows and the latest
    AVAILABLE release of the type (the firmware model)."""

    device_type: str
    devices: int
    versions: Mapping[str, int]  # reported version (None as "") -> devices
    latest_firmware_id: UUID | None
    latest_version: str | None
    behind: int  # devices whose reported version precedes the latest (or none reported)
    failed: int  # devices whose last execution ended in a final failure
