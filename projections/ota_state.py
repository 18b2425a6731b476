"""What the OTA orchestrator knows, rebuilt from the feed (docs/firmware.md section 12.4): the
devices (name, type, tags, metadata, decommissioning, the firmware version they last reported:
what a target's filter asks), the
releases' device types and hardware revisions, the deployments (target, plan, status, the
evidence of their last pause) and every execution (its state and deadlines), the notification
times the rate limit counts, and the alert raises and metric samples the health gate compares.

Plain data and one `apply(envelope)`; no I/O. Execution facts carry the stream version they
were taken at, so an event applied twice, or older than what the orchestrator learned from its
own commit, changes nothing.
"""

from __future__ import annotations

import bisect
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventEnvelope
from projections.ota_devices import DeviceFacts, metadata_of
from write_side.alerts import ALERT_RAISED
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_plan import DeploymentPlan
from write_side.deployment_states import ACTIVE, FINISHED, DeploymentStatus, ExecutionState
from write_side.deployment_target import Target
from write_side.deployments import Deployment
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.event_names import type_prefix
from write_side.firmware import FIRMWARE_UPLOAD_REQUESTED, FIRMWARE_WITHDRAWN
from write_side.interned import tag_set
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

S = ExecutionState
_DEPLOYMENT, _EXECUTION = type_prefix(Deployment), type_prefix(DeploymentExecution)
_STATUS_OF = {
    "Started": DeploymentStatus.RUNNING,
    "WaveApprovalRequested": DeploymentStatus.AWAITING_APPROVAL,
    "WaveApproved": DeploymentStatus.RUNNING,
    "Paused": DeploymentStatus.PAUSED,
    "Aborted": DeploymentStatus.ABORTED,
    "Canceled": DeploymentStatus.CANCELED,
    "Completed": DeploymentStatus.COMPLETED,
    "Resumed": DeploymentStatus.RUNNING,
}
_STATE_OF = {
    "Succeeded": S.SUCCEEDED,
    "Failed": S.FAILED,
    "TimedOut": S.TIMED_OUT,
    "Rejected": S.REJECTED,
    "Canceled": S.CANCELED,
    "RolledBack": S.ROLLED_BACK,
    "Retried": S.QUEUED,
    "RetryAbandoned": S.FAILED,
    "Notified": S.NOTIFIED,
}


@dataclass
class ExecutionFacts:
    id: UUID
    deployment_id: UUID
    device_id: UUID
    purpose: str
    wave: int
    target_version: str
    from_version: str | None
    queued_at: datetime
    version: int  # the stream version these facts are at
    state: ExecutionState = S.QUEUED
    not_before: datetime | None = None
    retry_at: datetime | None = None
    stall_deadline: datetime | None = None
    revert: bool = False  # failed with the plan's REVERT: a revert execution is due

    @property
    def final_failure(self) -> bool:
        failed = self.state is S.FAILED and self.retry_at is None
        return failed or self.state in (S.TIMED_OUT, S.REJECTED, S.ROLLED_BACK)


@dataclass
class DeploymentFacts:
    id: UUID
    tenant_id: str
    firmware_id: str
    firmware_version: str
    target: Target
    plan: DeploymentPlan
    status: DeploymentStatus = DeploymentStatus.SCHEDULED
    canceled_by: str | None = None
    targets: int = 0  # resolved at the start (`Started.targets`)
    soak: tuple[int, datetime, datetime] | None = None  # wave, from, until
    pauses: list[dict[str, Any]] = field(default_factory=list)  # (wave, by, evidence)
    notified: list[datetime] = field(default_factory=list)  # sorted `Notified` times
    executions: dict[UUID, ExecutionFacts] = field(default_factory=dict)

    def installs(self) -> list[ExecutionFacts]:
        return [e for e in self.executions.values() if e.purpose == "install"]


@dataclass
class OtaState:
    devices: dict[UUID, DeviceFacts] = field(default_factory=dict)
    firmware_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    firmware_revisions: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    deployments: dict[UUID, DeploymentFacts] = field(default_factory=dict)
    executions: dict[UUID, ExecutionFacts] = field(default_factory=dict)
    withdrawn: set[str] = field(default_factory=set)
    of_device: dict[UUID, list[ExecutionFacts]] = field(default_factory=dict)
    gate_metrics: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def active_on(self, device_id: UUID) -> ExecutionFacts | None:
        """The device's active execution, as far as the feed told."""
        for execution in self.by_device(device_id):
            if execution.state in ACTIVE:
                return execution
        return None

    def by_device(self, device_id: UUID) -> list[ExecutionFacts]:
        return self.of_device.get(device_id, [])

    def apply(self, envelope: EventEnvelope) -> None:
        kind, payload = envelope.type, envelope.payload
        if kind == TELEMETRY_BATCH_RECORDED.type:
            self._batch(payload)
        elif kind.startswith(_EXECUTION):
            self._execution(envelope)
        elif kind.startswith(_DEPLOYMENT):
            self._deployment(envelope)
        elif kind in (DEVICE_REGISTERED.type, DEVICE_UPDATED.type, DEVICE_DECOMMISSIONED.type):
            self._device(envelope)
        elif kind == ALERT_RAISED.type:
            device = self.devices.get(UUID(str(payload["device_id"])))
            if device is not None:
                device.note_alert(datetime.fromisoformat(payload["at"]))
        elif kind == FIRMWARE_UPLOAD_REQUESTED.type:
            self.firmware_types[envelope.stream_id] = tuple(payload["device_types"])
            revisions = payload.get("hardware_revisions")
            self.firmware_revisions[envelope.stream_id] = revisions and tuple(revisions)
        elif kind == FIRMWARE_WITHDRAWN.type:
            self.withdrawn.add(envelope.stream_id)

    def _batch(self, payload: dict[str, Any]) -> None:
        device = self.devices.get(UUID(str(payload["device_id"])))
        if device is None:
            return
        for entry in payload["entries"]:
            version = entry["status"].get("firmware_version")
            if version is not None:
                device.version = version
            if self.gate_metrics:
                at = datetime.fromisoformat(entry["at"])
                for metric, value in entry["metrics"].items():
                    if metric in self.gate_metrics:
                        device.note_sample(at, metric, float(value))

    def _device(self, envelope: EventEnvelope) -> None:
        device_id, payload = UUID(envelope.stream_id), envelope.payload
        if envelope.type == DEVICE_REGISTERED.type and device_id not in self.devices:
            self.devices[device_id] = DeviceFacts.of_registered(envelope.tenant_id, payload)
            return
        device = self.devices.get(device_id)
        if device is None or envelope.type == DEVICE_REGISTERED.type:
            return
        if envelope.type == DEVICE_DECOMMISSIONED.type:
            device.decommissioned = True
            return
        if payload.get("name") is not None:
            device.name = str(payload["name"])
        if payload.get("device_type") is not None:
            device.device_type = sys.intern(str(payload["device_type"]))
        if payload.get("tags") is not None:
            device.tags = tag_set(payload["tags"])
        if payload.get("metadata") is not None:
            device.metadata = metadata_of(payload["metadata"])

    def _deployment(self, envelope: EventEnvelope) -> None:
        name, payload = envelope.type.split(".", 1)[1], envelope.payload
        deployment_id = UUID(envelope.stream_id)
        if name == "Created" and deployment_id not in self.deployments:
            plan = DeploymentPlan.from_payload(payload["plan"])
            self.deployments[deployment_id] = DeploymentFacts(
                deployment_id,
                envelope.tenant_id,
                str(payload["firmware_id"]),
                str(payload["firmware_version"]),
                Target.from_payload(payload["target"]),
                plan,
            )
            if plan.health_gate is not None:
                self.gate_metrics[plan.health_gate.metric] += 1
            return
        deployment = self.deployments.get(deployment_id)
        if deployment is None or name == "Created":
            return
        was_finished = deployment.status in FINISHED
        deployment.status = _STATUS_OF.get(name, deployment.status)
        if name == "Started":
            deployment.targets = int(payload["targets"])
        elif name == "Canceled":
            deployment.canceled_by = str(payload["by"])
        elif name == "Paused":
            deployment.pauses.append(
                {"wave": payload["wave"], "by": payload["by"], "evidence": payload["evidence"]}
            )
        elif name == "SoakStarted":
            wave, until = int(payload["wave"]), datetime.fromisoformat(payload["until"])
            deployment.soak = (wave, until - deployment.plan.waves[wave].soak, until)
        elif name == "HealthChecked":
            deployment.soak = None
        if deployment.status in FINISHED and not was_finished:
            self._forget_gate(deployment)

    def _forget_gate(self, deployment: DeploymentFacts) -> None:
        gate = deployment.plan.health_gate
        if gate is not None and self.gate_metrics.get(gate.metric):
            self.gate_metrics[gate.metric] -= 1
            if not self.gate_metrics[gate.metric]:
                del self.gate_metrics[gate.metric]

    def _execution(self, envelope: EventEnvelope) -> None:
        name, payload = envelope.type.split(".", 1)[1], envelope.payload
        execution_id = UUID(envelope.stream_id)
        if name == "Queued":
            deployment = self.deployments.get(UUID(str(payload["deployment_id"])))
            if execution_id in self.executions or deployment is None:
                return
            not_before = payload.get("not_before")
            facts = ExecutionFacts(
                execution_id,
                deployment.id,
                UUID(str(payload["device_id"])),
                str(payload["purpose"]),
                int(payload["wave"]),
                str(payload["target_version"]),
                payload.get("from_version"),
                datetime.fromisoformat(payload["at"]),
                envelope.version,
                not_before=None if not_before is None else datetime.fromisoformat(not_before),
            )
            self.executions[execution_id] = deployment.executions[execution_id] = facts
            self.of_device.setdefault(facts.device_id, []).append(facts)
            return
        known = self.executions.get(execution_id)
        if known is None or envelope.version <= known.version:
            return
        facts = known
        facts.version = envelope.version
        at = datetime.fromisoformat(payload["at"])
        if name == "Advanced":
            facts.state = S(payload["to_state"])
        elif name in _STATE_OF:
            facts.state = _STATE_OF[name]
        deadline = payload.get("stall_deadline")
        facts.stall_deadline = None if deadline is None else datetime.fromisoformat(deadline)
        retry_at = payload.get("retry_at")
        facts.retry_at = None if retry_at is None else datetime.fromisoformat(retry_at)
        facts.revert = bool(payload.get("revert"))
        if name in ("Succeeded", "RolledBack") and facts.device_id in self.devices:
            self.devices[facts.device_id].version = str(payload["reported_version"])
        if name == "Notified":
            bisect.insort(self.deployments[facts.deployment_id].notified, at)
