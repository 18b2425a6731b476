"""The OTA orchestrator's effects: bringing one deployment up to date with what is known
(`reconcile`), through the write side's orchestration commands.

Apart from `projections.ota` (the worker's interface, the rebuild, timers) because this is the
rollout itself: start (targets resolved, every member's execution queued with its wave, the
already current ones SUCCEEDED), waves started, tallied and promoted (after a soak and the
health gate when the plan has one), paused or aborted on their thresholds, completed (a
dynamic deployment only after a person finished it, its queued installs CANCELED); queued
executions notified within the device's window and the rate limit; stalls and retries due;
the executions of a finished deployment canceled (retries abandoned) and reverts queued.
Every command is idempotent against the aggregate's state, so reconciling again from a view
that lags decides nothing new.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from event_store.dynamodb.errors import MAX_STREAMS_PER_CALL
from event_store.envelope import EventMetadata
from projections.ota_decisions import cohorts, due_timeouts, notifiable, tally, targets, waves_of
from projections.ota_state import DeploymentFacts, OtaState
from write_side.application import FleetApplication
from write_side.deployment_errors import DeviceBusy
from write_side.deployment_health import judge_health
from write_side.deployment_orchestration import DeploymentOrchestration, abandon_reason
from write_side.deployment_service import QueueExecution
from write_side.deployment_states import FINISHED, Channel, DeploymentStatus, ExecutionState
from write_side.deployment_waves import Verdict, judge_wave
from write_side.deployments import Deployment

log = logging.getLogger(__name__)
S, Status = ExecutionState, DeploymentStatus


class OtaSteps:
    """The effect half of `OtaProcess` (a base class sharing its application, state and
    commands). `wake(deployment, at)` asks to be called again at `at`."""

    app: FleetApplication
    state: OtaState
    commands: DeploymentOrchestration
    channel: Channel
    learn: Callable[[], None]
    wake: Callable[[DeploymentFacts, datetime], None]

    def reconcile(self, deployment_id: UUID, now: datetime, meta: EventMetadata) -> None:
        facts = self.state.deployments.get(deployment_id)
        if facts is None:
            return
        d = self.app.find(Deployment, facts.tenant_id, deployment_id)
        if d is None:
            return
        if facts.firmware_id in self.state.withdrawn and d.status not in FINISHED:
            d = self.commands.cancel_withdrawn(
                deployment_id, "firmware withdrawn", now, meta
            ).aggregate
            facts.canceled_by = "firmware_withdrawn"
        if d.status is Status.SCHEDULED:
            if facts.plan.start_at is not None and now < facts.plan.start_at:
                self.wake(facts, facts.plan.start_at)
                return
            found = targets(self.state, facts)
            d = self.commands.start(deployment_id, len(found), now, meta).aggregate
            facts.targets = len(found)
            if d.status is Status.SCHEDULED:
                return
        if d.status in FINISHED:
            self._wind_down(facts, d, now, meta)
            return
        if d.finishing:
            self._timeouts(facts, now, meta)
            self._close(facts, d, now, meta)
            return
        self._join(facts, d, now, meta)
        self._timeouts(facts, now, meta)
        for _ in range(len(facts.plan.waves) + 1):  # an empty wave promotes at once
            if d.status is not Status.RUNNING or not self._judge(facts, d, now, meta):
                break
            d = self.app.load(Deployment, facts.tenant_id, deployment_id)
        if d.status in FINISHED:
            self._wind_down(facts, d, now, meta)
        elif d.status is Status.RUNNING:
            self._queue_reverts(facts, d, now, meta)
            self._notify(facts, d.wave, now, meta)

    # Membership ------------------------------------------------------------------------------

    def _join(
        self, facts: DeploymentFacts, d: Deployment, now: datetime, meta: EventMetadata
    ) -> None:
        """Queue the members without an execution: all of them at the start; later the devices
        of a dynamic target that joined (and, after a restart, those a crash left unqueued)."""
        installs = {e.device_id for e in facts.installs()}
        if not facts.target.dynamic and installs and len(installs) >= facts.targets:
            return
        found = targets(self.state, facts)
        missing = {k: v for k, v in found.items() if k not in installs}
        if not missing:
            return
        waves = waves_of(facts, missing, None if not installs else d.wave or 0)
        specs = [
            QueueExecution(d.id, device_id, waves[device_id], device.version)
            for device_id, device in missing.items()
        ]
        for i in range(0, len(specs), MAX_STREAMS_PER_CALL):
            self.commands.queue_many(d, specs[i : i + MAX_STREAMS_PER_CALL], now, meta)
        self.learn()
        self._settle_current(facts, now, meta)

    def _settle_current(self, facts: DeploymentFacts, now: datetime, meta: EventMetadata) -> None:
        """A queued install whose device reports the target version: SUCCEEDED, no job."""
        moved = False
        for e in facts.installs():
            device = self.state.devices.get(e.device_id)
            if e.state is S.QUEUED and device is not None and device.version == e.target_version:
                moved |= bool(
                    self.commands.settle_current(e.id, e.target_version, now, meta).position
                )
        if moved:
            self.learn()

    # Waves -------------------------------------------------------------------------------------

    def _judge(
        self, facts: DeploymentFacts, d: Deployment, now: datetime, meta: EventMetadata
    ) -> bool:
        """One step of the running wave's life; True when it moved the deployment on."""
        if d.wave is None or d.wave in d.promoted:
            wave = d.next_wave
            members = sum(e.wave == wave for e in facts.installs())
            return bool(self.commands.start_wave(d.id, wave, members, now, meta).position)
        self._settle_current(facts, now, meta)
        wave, spec = d.wave, facts.plan.waves[d.wave]
        counts = tally(facts.executions.values(), wave)
        judgement = judge_wave(counts, spec)
        if judgement.reason == "failure_threshold" and _failures_accepted(
            facts, wave, counts.failed
        ):
            judgement = judge_wave(counts, replace(spec, failure_count=None, failure_percent=None))
        evidence = {**judgement.evidence, "wave": wave}
        if judgement.verdict is Verdict.ABORT:
            self.commands.abort(d.id, judgement.reason, evidence, now, meta)
            return True
        if judgement.verdict is Verdict.PAUSE:
            if _paused_before(facts, wave, judgement.reason, evidence):
                return False  # resumed by a person after this very evidence: go on
            self.commands.pause(d.id, judgement.reason, evidence, now, meta)
            return True
        if judgement.verdict is not Verdict.PROMOTE:
            return False
        if wave == len(facts.plan.waves) - 1:
            totals = tally(facts.executions.values())
            if facts.target.dynamic or totals.active:  # complete once no install can move;
                return False  # a dynamic deployment stays open for devices joining until finished
            return bool(self.commands.complete(d.id, totals, now, meta).position)
        gate = facts.plan.health_gate
        if gate is not None and spec.soak and wave not in d.healthy:
            if d.soaking != wave:
                until = now + spec.soak
                self.commands.start_soak(d.id, wave, until, meta)
                self.wake(facts, until)
                return False
            soak = facts.soak or (wave, now - spec.soak, now)
            if now < soak[2]:
                self.wake(facts, soak[2])
                return False
            updated, control = cohorts(self.state, facts, wave, soak[1], soak[2])
            check = judge_health(gate, updated, control)
            self.commands.record_health(d.id, wave, check, now, meta)
            return True
        return bool(self.commands.promote(d.id, wave, counts, now, meta).position)

    # Executions --------------------------------------------------------------------------------

    def _timeouts(self, facts: DeploymentFacts, now: datetime, meta: EventMetadata) -> None:
        stalled, retries, ahead = due_timeouts(facts, now)
        for e in stalled:
            self.commands.stall(e.id, now, meta)
        for e in retries:
            self.commands.retry(e.id, now, meta)
        if stalled or retries:
            self.learn()
        if ahead is not None:
            self.wake(facts, ahead)

    def _notify(
        self, facts: DeploymentFacts, wave: int | None, now: datetime, meta: EventMetadata
    ) -> None:
        ready = notifiable(self.state, facts, wave, now)
        for e in ready.executions:
            with contextlib.suppress(DeviceBusy):  # stays QUEUED; retried when the claim frees
                self.commands.notify(e.id, self.channel, now, meta)
        if ready.executions:
            self.learn()
        if ready.wake_at is not None:
            self.wake(facts, ready.wake_at)

    def _queue_reverts(
        self,
        facts: DeploymentFacts,
        d: Deployment,
        now: datetime,
        meta: EventMetadata,
        *,
        succeeded: bool = False,
    ) -> None:
        """Revert executions: for installs that failed with the plan's REVERT, and (after an
        abort or a cancel whose plan says so) for every install that succeeded."""
        reverting = {e.device_id for e in facts.executions.values() if e.purpose == "revert"}
        specs = [
            QueueExecution(
                d.id,
                e.device_id,
                e.wave,
                e.target_version,
                purpose="revert",
                target_version=e.from_version,
            )
            for e in facts.installs()
            if e.device_id not in reverting
            and e.from_version is not None
            and (e.revert or (succeeded and e.state is S.SUCCEEDED))
        ]
        for i in range(0, len(specs), MAX_STREAMS_PER_CALL):
            self.commands.queue_many(d, specs[i : i + MAX_STREAMS_PER_CALL], now, meta)
        if specs:
            self.learn()

    def _wind_down(
        self, facts: DeploymentFacts, d: Deployment, now: datetime, meta: EventMetadata
    ) -> None:
        """A finished deployment: its queued and not yet installing installs CANCELED, pending
        retries abandoned; after an abort or a cancel, reverts as the plan says."""
        if d.status is Status.COMPLETED:
            return
        reason = abandon_reason(d.status, facts.canceled_by)
        ended = False
        for e in facts.installs():
            cancelable = e.state in (S.QUEUED, S.NOTIFIED, S.DOWNLOADING, S.DOWNLOADED)
            if cancelable or (e.state is S.FAILED and e.retry_at is not None):
                ended |= bool(self.commands.end(e.id, reason, now, meta).position)
        if ended:
            self.learn()
        revert = facts.plan.rollback
        self._queue_reverts(facts, d, now, meta, succeeded=revert.revert_succeeded_on_abort)
        self._notify(facts, None, now, meta)

    def _close(
        self, facts: DeploymentFacts, d: Deployment, now: datetime, meta: EventMetadata
    ) -> None:
        """A finished dynamic deployment: no new device; its queued installs CANCELED, pending
        retries abandoned, succeeded ones kept; Completed once no install is active."""
        ended = False
        for e in facts.installs():
            if e.state is S.QUEUED or (e.state is S.FAILED and e.retry_at is not None):
                ended |= bool(self.commands.end(e.id, "deployment_finished", now, meta).position)
        if ended:
            self.learn()
        totals = tally(facts.executions.values())
        if not totals.active:
            self.commands.complete(d.id, totals, now, meta)
            return
        self._queue_reverts(facts, d, now, meta)
        self._notify(facts, None, now, meta)


def _failures_accepted(facts: DeploymentFacts, wave: int, failed: int) -> bool:
    """A person resumed a failure threshold's pause of this wave showing at least these
    failures: they are accepted, the wave is judged on its success threshold; a new final
    failure pauses again."""
    return any(
        p["wave"] == wave and p["by"] == "failure_threshold" and p["evidence"]["failed"] >= failed
        for p in facts.pauses
    )


def _paused_before(facts: DeploymentFacts, wave: int, by: str, evidence: dict[str, object]) -> bool:
    """A threshold's pause is not repeated on the evidence a person resumed after."""
    return any(
        p["wave"] == wave and p["by"] == by and p["evidence"] == evidence for p in facts.pauses
    )
