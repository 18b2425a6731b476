"""The deployments slice's command handlers (docs/firmware.md sections 12.2 to 12.5), in the
style of every slice (docs/write-side.md section 3.1): load, check the expected version,
decide (an aggregate method), `commit`.

People create, approve, pause, resume and cancel deployments; devices report job updates; a
firmware version reported in telemetry ends the device's active execution. The orchestrator
(later, `projections/ota.py`) queues and notifies executions through `queue` and `notify`:
`notify` takes the device's `DeviceClaim` in the same commit, so two executions are never
active on one device (the second stays QUEUED: `DeviceBusy`). Commands without an expected
version are safe to re-decide and are retried on a lost race (`application.retried`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.application import (
    CONFLICT_RETRIES,
    FleetApplication,
    Saved,
    check_version,
    retried,
)
from write_side.deployment_claims import DeviceClaim, claim_id
from write_side.deployment_commands import (
    ApproveWave,
    CancelDeployment,
    CreateDeployment,
    FinishDeployment,
    ObserveVersion,
    PauseDeployment,
    ReportUpdate,
    ResumeDeployment,
)
from write_side.deployment_errors import FirmwareUnavailable, InvalidTransition
from write_side.deployment_execution import observe_version as observed
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_plan import OnExecutionFailure
from write_side.deployment_ports import FirmwareReleases
from write_side.deployment_states import (
    ACTIVE,
    Channel,
    DeploymentStatus,
    ExecutionState,
    Purpose,
    QueueReason,
)
from write_side.deployments import Deployment
from write_side.errors import ConcurrencyConflict, InvalidInput, NotFound

AVAILABLE = "AVAILABLE"


@dataclass(frozen=True)
class QueueExecution:
    """The orchestrator's decision to queue one device's execution (12.2)."""

    deployment_id: UUID
    device_id: UUID
    wave: int
    from_version: str | None
    reason: QueueReason = "new"
    purpose: Purpose = "install"
    target_version: str | None = None  # None: the deployment's release; a revert names it
    not_before: datetime | None = None

    def execution(
        self, deployment: Deployment, tenant_id: str, at: datetime
    ) -> DeploymentExecution:
        """The execution this decision queues (its id is deterministic: a stream that exists
        already is the same execution)."""
        return DeploymentExecution.queue(
            tenant_id=tenant_id,
            deployment_id=deployment.id,
            device_id=self.device_id,
            purpose=self.purpose,
            wave=self.wave,
            firmware_id=UUID(deployment.firmware_id),
            target_version=self.target_version or deployment.firmware_version,
            from_version=self.from_version,
            reason=self.reason,
            not_before=self.not_before,
            at=at,
        )


class DeploymentService:
    def __init__(
        self,
        app: FleetApplication,
        firmware: FirmwareReleases,
        clock: Callable[[], datetime] | None = None,
        new_seed: Callable[[], int] | None = None,
    ) -> None:
        self.app = app
        self.firmware = firmware
        self.clock = clock or (lambda: datetime.now(UTC))
        self.new_seed = new_seed or (lambda: secrets.randbelow(2**63))

    # People's commands -------------------------------------------------------------------------

    def create(self, command: CreateDeployment, meta: EventMetadata) -> Saved[Deployment]:
        """The release must be AVAILABLE and made for every device type the target names."""
        release = self.firmware.get(meta.tenant_id, command.firmware_id)
        if release is None:
            raise InvalidInput(f"firmware {command.firmware_id} not found", "firmwareId")
        if release.status != AVAILABLE:
            raise FirmwareUnavailable(f"firmware {release.id} is {release.status.lower()}")
        target = command.to_target()
        foreign = sorted(set(target.device_types) - set(release.device_types))
        if foreign:
            message = f"firmware {release.version} is not made for {', '.join(foreign)}"
            raise InvalidInput(message, "target.deviceTypes")
        seed = command.seed if command.seed is not None else self.new_seed()
        deployment = Deployment.create(
            tenant_id=meta.tenant_id,
            name=command.name,
            firmware_id=str(release.id),
            firmware_version=release.version,
            target=target,
            plan=command.to_plan(seed),
            created_by=meta.actor,
        )
        return self.app.commit(deployment, meta)

    def approve(self, command: ApproveWave, meta: EventMetadata) -> Saved[Deployment]:
        def decide(deployment: Deployment) -> None:
            deployment.approve(command.wave, meta.actor, self.clock())

        return self._change(command.deployment_id, command.expected_version, decide, meta)

    def pause(self, command: PauseDeployment, meta: EventMetadata) -> Saved[Deployment]:
        """Saved(deployment, 0) when it is paused already (nothing recorded)."""

        def decide(deployment: Deployment) -> None:
            deployment.pause("user", command.reason or "", {}, self.clock())

        return self._change(command.deployment_id, command.expected_version, decide, meta)

    def resume(self, command: ResumeDeployment, meta: EventMetadata) -> Saved[Deployment]:
        def decide(deployment: Deployment) -> None:
            deployment.resume(meta.actor, self.clock())

        return self._change(command.deployment_id, command.expected_version, decide, meta)

    def cancel(self, command: CancelDeployment, meta: EventMetadata) -> Saved[Deployment]:
        """The deployment only: its executions are canceled by the orchestrator (12.4)."""

        def decide(deployment: Deployment) -> None:
            deployment.cancel(meta.actor, command.reason, self.clock())

        return self._change(command.deployment_id, command.expected_version, decide, meta)

    def finish(self, command: FinishDeployment, meta: EventMetadata) -> Saved[Deployment]:
        """Saved(deployment, 0) when it is finishing already; the orchestrator completes it."""

        def decide(deployment: Deployment) -> None:
            deployment.finish(meta.actor, self.clock())

        return self._change(command.deployment_id, command.expected_version, decide, meta)

    def get(self, tenant_id: str, deployment_id: UUID) -> Deployment:
        return self.app.load(Deployment, tenant_id, deployment_id)

    def _change(
        self,
        deployment_id: UUID,
        expected: int | None,
        decide: Callable[[Deployment], None],
        meta: EventMetadata,
    ) -> Saved[Deployment]:
        def attempt() -> Saved[Deployment]:
            deployment = self.get(meta.tenant_id, deployment_id)
            check_version(deployment, expected)
            decide(deployment)
            return self.app.commit(deployment, meta)

        return retried(attempt, retry=expected is None)

    # The device protocol -----------------------------------------------------------------------

    def report_update(
        self, command: ReportUpdate, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """Saved(execution, 0) for a duplicate `seq` (nothing recorded: answer `duplicate`).
        Another device's execution is NOT_FOUND."""

        def attempt() -> Saved[DeploymentExecution]:
            execution = self.get_execution(meta.tenant_id, command.execution_id)
            if execution.device_id != command.device_id:
                raise NotFound(f"execution {command.execution_id} not found")
            deployment = self.get(meta.tenant_id, execution.deployment_id)
            execution.report(command.to_update(), deployment.plan.execution, _revert(deployment))
            return self.app.commit(execution, meta)

        return retried(attempt, retry=True)

    def observe_version(
        self, command: ObserveVersion, meta: EventMetadata
    ) -> Saved[DeploymentExecution] | None:
        """A version reported in telemetry, applied to the device's active execution (the
        holder of its claim); None when the device has none."""

        tenant = meta.tenant_id
        for left in reversed(range(CONFLICT_RETRIES)):
            claim = self.app.find(DeviceClaim, tenant, claim_id(tenant, command.device_id))
            holder = None if claim is None or claim.holder is None else claim.holder
            execution = None if holder is None else self._execution(tenant, holder)
            if execution is None or execution.execution.state not in ACTIVE:
                return None
            at, version = command.at, command.version
            step = observed(execution.execution, version, at, "telemetry").transition
            revert = (  # another version after "done": the plan's policy (read only then)
                step is not None
                and step.to_state is ExecutionState.ROLLED_BACK
                and _revert(self.get(tenant, execution.deployment_id))
            )
            execution.observe_version(version, at, "telemetry", revert)
            try:
                return self.app.commit(execution, meta)
            except ConcurrencyConflict:
                if not left:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # The orchestrator's commands ---------------------------------------------------------------

    def queue(self, command: QueueExecution, meta: EventMetadata) -> Saved[DeploymentExecution]:
        """Create the execution's stream; one that exists already is answered as it is."""
        deployment = self.get(meta.tenant_id, command.deployment_id)
        execution = command.execution(deployment, meta.tenant_id, self.clock())
        existing = self._execution(meta.tenant_id, execution.id)
        if existing is not None:
            return Saved(existing, 0)
        return self.app.commit(execution, meta)

    def notify(
        self, execution_id: UUID, channel: Channel, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """QUEUED -> NOTIFIED, taking the device's claim in the same commit. `DeviceBusy` when
        another execution is active on the device (nothing recorded: it stays QUEUED)."""

        def attempt() -> Saved[DeploymentExecution]:
            tenant, at = meta.tenant_id, self.clock()
            execution = self.get_execution(tenant, execution_id)
            deployment = self.get(tenant, execution.deployment_id)
            if deployment.status is not DeploymentStatus.RUNNING:
                status = deployment.status.lower()
                raise InvalidTransition(f"deployment {deployment.id} is {status}, not running")
            claim = self.app.find(DeviceClaim, tenant, claim_id(tenant, execution.device_id))
            claim = claim or DeviceClaim.open(tenant, execution.device_id)
            holder = None if claim.holder is None else self._execution(tenant, claim.holder)
            execution.notify(at, channel, deployment.plan.execution)  # QUEUED, or refused
            busy = holder is not None and holder.execution.state in ACTIVE
            claim.claim(execution.id, deployment.id, at, busy)
            return self.app.commit(execution, meta, claim)

        return retried(attempt, retry=True)

    def cancel_execution(
        self, execution_id: UUID, reason: str, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        execution = self.get_execution(meta.tenant_id, execution_id)
        execution.cancel(self.clock(), reason)
        return self.app.commit(execution, meta)

    def active_execution(self, tenant_id: str, device_id: UUID) -> DeploymentExecution | None:
        """The device's active execution (its claim's holder, while in an active state), read
        from the write side, so never stale; None when the device has none."""
        claim = self.app.find(DeviceClaim, tenant_id, claim_id(tenant_id, device_id))
        holder = None if claim is None else claim.holder
        execution = None if holder is None else self._execution(tenant_id, holder)
        return execution if execution and execution.execution.state in ACTIVE else None

    def find_execution(self, tenant_id: str, execution_id: UUID) -> DeploymentExecution | None:
        return self._execution(tenant_id, execution_id)

    def get_execution(self, tenant_id: str, execution_id: UUID) -> DeploymentExecution:
        return self.app.load(DeploymentExecution, tenant_id, execution_id)

    def _execution(self, tenant_id: str, execution_id: UUID) -> DeploymentExecution | None:
        return self.app.find(DeploymentExecution, tenant_id, execution_id)


def _revert(deployment: Deployment) -> bool:
    return deployment.plan.rollback.on_execution_failure is OnExecutionFailure.REVERT
