"""The orchestrator's commands (docs/firmware.md section 12.4): what `projections/ota.py`
decides, recorded on the `Deployment` and `DeploymentExecution` aggregates.

Each is load-decide-commit with an explicit time, actor `system:ota` and the triggering event's
id as causation (the caller's `meta`). Each is idempotent against the aggregate's state: a
command whose effect is recorded already (a re-delivered event, a replay after a restart, a
timer that fires twice) records nothing and answers `Saved(aggregate, 0)`, so the orchestrator
may decide again from a stale view and never acts twice. People's commands and the device
protocol stay in `write_side/deployment_service.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved, retried
from write_side.deployment_claims import DeviceClaim, claim_id
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_health import HealthCheck
from write_side.deployment_plan import OnExecutionFailure
from write_side.deployment_service import QueueExecution
from write_side.deployment_states import (
    ACTIVE,
    CANCELABLE,
    FINISHED,
    AbandonReason,
    Channel,
    DeploymentStatus,
    ExecutionState,
)
from write_side.deployment_waves import WaveTally
from write_side.deployments import Deployment
from write_side.errors import ConcurrencyConflict

Status = DeploymentStatus
REVERT_STATUSES = frozenset({Status.RUNNING, Status.ABORTED, Status.CANCELED})


class DeploymentOrchestration:
    def __init__(self, app: FleetApplication) -> None:
        self.app = app

    # On the deployment ---------------------------------------------------------------------

    def start(
        self, deployment_id: UUID, targets: int, at: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:
        def decide(d: Deployment) -> None:
            if d.status is Status.SCHEDULED and (targets or d.target.dynamic):
                d.start(at, targets)
            elif d.status is Status.SCHEDULED:  # a snapshot that matches no device
                d.cancel("system:ota", "the target matches no device", at)

        return self._deployment(deployment_id, decide, meta)

    def start_wave(
        self, deployment_id: UUID, wave: int, members: int, at: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:
        """The next wave (or its approval request); nothing when it is not next."""

        def decide(d: Deployment) -> None:
            previous_done = d.wave is None or d.wave in d.promoted
            next_up = d.next_wave == wave < len(d.plan.waves)
            if d.status is Status.RUNNING and next_up and previous_done:
                d.start_wave(wave, members, at)

        return self._deployment(deployment_id, decide, meta)

    def start_soak(
        self, deployment_id: UUID, wave: int, until: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:
        def decide(d: Deployment) -> None:
            fresh = d.soaking != wave and wave not in d.promoted and wave not in d.healthy
            if d.status is Status.RUNNING and d.wave == wave and fresh:
                d.start_soak(wave, until)

        return self._deployment(deployment_id, decide, meta)

    def record_health(
        self, deployment_id: UUID, wave: int, check: HealthCheck, at: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:
        def decide(d: Deployment) -> None:
            if d.status is Status.RUNNING and d.wave == wave and d.soaking == wave:
                d.record_health(wave, check, at)

        return self._deployment(deployment_id, decide, meta)

    def promote(
        self, deployment_id: UUID, wave: int, tally: WaveTally, at: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:
        def decide(d: Deployment) -> None:
            last = len(d.plan.waves) - 1
            gated = d.plan.health_gate is not None and bool(d.plan.waves[wave].soak)
            ready = not gated or wave in d.healthy
            fresh = wave < last and wave not in d.promoted
            if d.status is Status.RUNNING and d.wave == wave and fresh and ready:
                d.promote(wave, tally, at)

        return self._deployment(deployment_id, decide, meta)

    def pause(
        self,
        deployment_id: UUID,
        by: str,
        evidence: dict[str, Any],
        at: datetime,
        meta: EventMetadata,
    ) -> Saved[Deployment]:
        """A threshold's pause (`by`: failure_threshold, success_unreachable)."""

        def decide(d: Deployment) -> None:
            if d.status is Status.RUNNING:
                d.pause(by, by, evidence, at)

        return self._deployment(deployment_id, decide, meta)

    def abort(
        self,
        deployment_id: UUID,
        reason: str,
        evidence: dict[str, Any],
        at: datetime,
        meta: EventMetadata,
    ) -> Saved[Deployment]:
        def decide(d: Deployment) -> None:
            if d.status not in FINISHED:
                d.abort(reason, evidence, at)

        return self._deployment(deployment_id, decide, meta)

    def complete(
        self, deployment_id: UUID, totals: WaveTally, at: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:
        def decide(d: Deployment) -> None:
            last = d.status is Status.RUNNING and d.wave == len(d.plan.waves) - 1
            if (d.finishing and d.status not in FINISHED) or (last and not d.target.dynamic):
                d.complete(totals.succeeded, totals.failed, totals.canceled, at)

        return self._deployment(deployment_id, decide, meta)

    def cancel_withdrawn(
        self, deployment_id: UUID, reason: str | None, at: datetime, meta: EventMetadata
    ) -> Saved[Deployment]:

        def decide(d: Deployment) -> None:
            if d.status not in FINISHED:
                d.cancel("firmware_withdrawn", reason, at)

        return self._deployment(deployment_id, decide, meta)

    def _deployment(
        self, deployment_id: UUID, decide: Callable[[Deployment], None], meta: EventMetadata
    ) -> Saved[Deployment]:
        def attempt() -> Saved[Deployment]:
            deployment = self.app.load(Deployment, meta.tenant_id, deployment_id)
            decide(deployment)
            return self.app.commit(deployment, meta)

        return retried(attempt, retry=True)

    # On executions -----------------------------------------------------------------------------

    def queue_many(
        self,
        deployment: Deployment,
        specs: Sequence[QueueExecution],
        at: datetime,
        meta: EventMetadata,
    ) -> list[DeploymentExecution]:
        """The executions' new streams in ONE commit (`specs` within the store's streams per
        call); those that exist already are left as they are."""
        fresh = []
        for spec in specs:
            execution = spec.execution(deployment, meta.tenant_id, at)
            if self.app.find(DeploymentExecution, meta.tenant_id, execution.id) is None:
                fresh.append(execution)
        if not fresh:
            return []
        try:
            self.app.commit(fresh[0], meta, *fresh[1:])
        except ConcurrencyConflict:  # another instance queued some: one at a time
            saved = []
            for execution in fresh:
                try:
                    saved.append(self.app.commit(execution, meta).aggregate)
                except ConcurrencyConflict:
                    continue
            return saved
        return fresh

    def settle_current(
        self, execution_id: UUID, version: str, at: datetime, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """A QUEUED execution whose device reports the target version: SUCCEEDED
        (`already_current`); any other version or state decides nothing."""

        def decide(e: DeploymentExecution) -> None:
            if e.execution.state is ExecutionState.QUEUED:
                e.observe_version(version, at, "telemetry")

        return self._execution(execution_id, decide, meta)

    def notify(
        self, execution_id: UUID, channel: Channel, at: datetime, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """QUEUED -> NOTIFIED with the device's claim in one commit (else `DeviceBusy`); nothing
        unless QUEUED and the deployment runs (a revert: also after an abort or a cancel)."""

        def attempt() -> Saved[DeploymentExecution]:
            tenant = meta.tenant_id
            execution = self.app.load(DeploymentExecution, tenant, execution_id)
            deployment = self.app.load(Deployment, tenant, execution.deployment_id)
            allowed = REVERT_STATUSES if execution.purpose == "revert" else {Status.RUNNING}
            queued = execution.execution.state is ExecutionState.QUEUED
            if not queued or deployment.status not in allowed:
                return Saved(execution, 0)
            claim = self.app.find(DeviceClaim, tenant, claim_id(tenant, execution.device_id))
            claim = claim or DeviceClaim.open(tenant, execution.device_id)
            holder = claim.holder and self.app.find(DeploymentExecution, tenant, claim.holder)
            holder = holder if isinstance(holder, DeploymentExecution) else None
            execution.notify(at, channel, deployment.plan.execution)
            busy = holder is not None and holder.execution.state in ACTIVE
            claim.claim(execution.id, deployment.id, at, busy)
            return self.app.commit(execution, meta, claim)

        return retried(attempt, retry=True)

    def stall(
        self, execution_id: UUID, at: datetime, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """A stall deadline passed (the aggregate ignores a stale one)."""

        def decide(e: DeploymentExecution) -> None:
            deployment = self.app.load(Deployment, meta.tenant_id, e.deployment_id)
            revert = deployment.plan.rollback.on_execution_failure is OnExecutionFailure.REVERT
            e.stall(at, deployment.plan.execution, revert)

        return self._execution(execution_id, decide, meta)

    def retry(
        self, execution_id: UUID, at: datetime, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """A retry came due: QUEUED again, or abandoned when the deployment has finished."""

        def decide(e: DeploymentExecution) -> None:
            if e.execution.state is not ExecutionState.FAILED or e.execution.retry_at is None:
                return
            deployment = self.app.load(Deployment, meta.tenant_id, e.deployment_id)
            if deployment.status in FINISHED:
                e.abandon_retry(at, abandon_reason(deployment.status, None))
            else:
                e.retry(at)

        return self._execution(execution_id, decide, meta)

    def end(
        self, execution_id: UUID, reason: AbandonReason, at: datetime, meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        """The deployment finished: cancel the execution if it can be, abandon its pending
        retry; an install that runs goes on."""

        def decide(e: DeploymentExecution) -> None:
            state = e.execution.state
            if state in CANCELABLE:
                e.cancel(at, reason)
            elif state is ExecutionState.FAILED and e.execution.retry_at is not None:
                e.abandon_retry(at, reason)

        return self._execution(execution_id, decide, meta)

    def _execution(
        self, execution_id: UUID, decide: Callable[[DeploymentExecution], None], meta: EventMetadata
    ) -> Saved[DeploymentExecution]:
        def attempt() -> Saved[DeploymentExecution]:
            execution = self.app.load(DeploymentExecution, meta.tenant_id, execution_id)
            decide(execution)
            return self.app.commit(execution, meta)

        return retried(attempt, retry=True)


def abandon_reason(status: DeploymentStatus, canceled_by: str | None) -> AbandonReason:
    if status is Status.ABORTED:
        return "deployment_aborted"
    return "firmware_withdrawn" if canceled_by == "firmware_withdrawn" else "deployment_canceled"
