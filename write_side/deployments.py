"""The Deployment aggregate: one rollout of one firmware release, and the decisions taken on it.

The stream holds decisions only (started, waves started, approved, soaked, checked, promoted,
paused, resumed, aborted, canceled, finished, completed); each device's progress is on its own
execution stream (docs/firmware.md 12.3). Invariants are checked in the public methods, state
changes only in the `@event` methods; times in events are ISO 8601 strings. The orchestrator
decides from the pure policy (`write_side/deployment_waves.py`); people call `approve`,
`pause`, `resume`, `cancel` and `finish` (a dynamic deployment stays open until finished).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from write_side.deployment_errors import DeploymentFinished, InvalidTransition
from write_side.deployment_health import HealthCheck
from write_side.deployment_plan import DeploymentPlan
from write_side.deployment_states import FINISHED, DeploymentStatus
from write_side.deployment_target import Target
from write_side.deployment_waves import WaveTally
from write_side.errors import InvalidInput
from write_side.event_names import event_name

Status = DeploymentStatus
PAUSERS, MAX_NAME = ("user", "failure_threshold", "success_unreachable", "health_gate"), 120


class Deployment(Aggregate):
    """Create with `Deployment.create(...)`; the other methods check the lifecycle, then record."""

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        name: str,
        firmware_id: str,
        firmware_version: str,
        target: Target,
        plan: DeploymentPlan,
        created_by: str,
    ) -> Deployment:
        if not 1 <= len(name.strip()) <= MAX_NAME:
            raise InvalidInput(f"a name has 1..{MAX_NAME} characters", "name")
        return cls(
            tenant_id=tenant_id,
            name=name.strip(),
            firmware_id=firmware_id,
            firmware_version=firmware_version,
            target=target.to_payload(),
            plan=plan.to_payload(),
            created_by=created_by,
        )

    @event("Created")
    def __init__(
        self,
        *,
        tenant_id: str,
        name: str,
        firmware_id: str,
        firmware_version: str,
        target: dict[str, Any],
        plan: dict[str, Any],
        created_by: str,
    ) -> None:
        self.tenant_id, self.name, self.created_by = tenant_id, name, created_by
        self.firmware_id, self.firmware_version = firmware_id, firmware_version
        self.target = Target.from_payload(target)
        self.plan = DeploymentPlan.from_payload(plan)
        self.status = Status.SCHEDULED
        self.paused_from: Status | None = None
        self.wave: int | None = None  # the wave running (or last started)
        self.promoted: set[int] = set()
        self.approved: set[int] = set()
        self.soaking: int | None = None
        self.healthy: set[int] = set()
        self.finishing = False  # a dynamic deployment finished: no new devices, then Completed

    @property
    def next_wave(self) -> int:
        return 0 if self.wave is None else self.wave + 1

    def start(self, at: datetime, targets: int) -> None:
        self._refuse_if_finished()
        if self.status is not Status.SCHEDULED:
            raise InvalidTransition(f"deployment {self.id} has started already")
        if self.plan.start_at is not None and at < self.plan.start_at:
            raise InvalidTransition(f"deployment {self.id} starts at {self.plan.start_at}")
        if targets == 0 and not self.target.dynamic:
            raise InvalidInput("the target matches no device", "target")
        self._started(at=at.isoformat(), targets=targets)

    def start_wave(self, wave: int, members: int, at: datetime) -> None:
        """Start the next wave: the one before promoted, and approved when its plan asks."""
        self._require_running()
        if wave != self.next_wave or wave >= len(self.plan.waves):
            raise InvalidTransition(f"wave {wave} is not next (next: {self.next_wave})")
        if self.wave is not None and self.wave not in self.promoted:
            raise InvalidTransition(f"wave {self.wave} has not been promoted")
        if self.plan.waves[wave].approval and wave not in self.approved:
            self._approval_requested(wave=wave, at=at.isoformat())
            return
        self._wave_started(wave=wave, members=members, at=at.isoformat())

    def approve(self, wave: int, by: str, at: datetime) -> None:
        self._refuse_if_finished()
        if self.status is not Status.AWAITING_APPROVAL or wave != self.next_wave:
            raise InvalidTransition(f"wave {wave} of deployment {self.id} awaits no approval")
        self._wave_approved(wave=wave, by=by, at=at.isoformat())

    def start_soak(self, wave: int, until: datetime) -> None:
        """The wave reached its success threshold; watch it for the plan's soak."""
        self._require_current(wave)
        if self.soaking == wave or wave in self.promoted:
            raise InvalidTransition(f"wave {wave} is soaking or promoted already")
        self._soak_started(wave=wave, until=until.isoformat())

    def record_health(self, wave: int, check: HealthCheck, at: datetime) -> None:
        """The gate's verdict after the soak; a failed gate pauses with its evidence."""
        self._require_current(wave)
        if self.soaking != wave:
            raise InvalidTransition(f"wave {wave} is not soaking")
        self._health_checked(wave=wave, passed=check.passed, evidence=check.evidence)
        if not check.passed:
            self.pause("health_gate", ", ".join(check.reasons), check.evidence, at)

    def promote(self, wave: int, tally: WaveTally, at: datetime) -> None:
        self._require_current(wave)
        if wave in self.promoted or wave == len(self.plan.waves) - 1:
            raise InvalidTransition(f"wave {wave} cannot be promoted (the last completes)")
        needs_gate = self.plan.health_gate is not None and self.plan.waves[wave].soak
        if needs_gate and wave not in self.healthy:
            raise InvalidTransition(f"wave {wave} has not passed its health gate")
        self._wave_promoted(
            wave=wave,
            succeeded=tally.succeeded,
            failed=tally.failed,
            members=tally.members,
            at=at.isoformat(),
        )

    def pause(self, by: str, reason: str, evidence: dict[str, Any], at: datetime) -> bool:
        """False (records nothing) when the deployment is paused already."""
        self._refuse_if_finished()
        if by not in PAUSERS:
            raise InvalidInput(f"a pause is by one of {', '.join(PAUSERS)}", "by")
        if self.status is Status.PAUSED:
            return False
        self._paused(by=by, wave=self.wave, reason=reason, evidence=evidence, at=at.isoformat())
        return True

    def resume(self, by: str, at: datetime) -> None:
        self._refuse_if_finished()
        if self.status is not Status.PAUSED:
            raise InvalidTransition(f"deployment {self.id} is not paused")
        self._resumed(by=by, at=at.isoformat())

    def abort(self, reason: str, evidence: dict[str, Any], at: datetime) -> None:
        """A wave's failures crossed a threshold whose action is ABORT."""
        self._refuse_if_finished()
        revert = self.plan.rollback.revert_succeeded_on_abort
        self._aborted(
            wave=self.wave,
            reason=reason,
            evidence=evidence,
            revert_succeeded=revert,
            at=at.isoformat(),
        )

    def cancel(self, by: str, reason: str | None, at: datetime) -> None:
        self._refuse_if_finished()
        revert = self.plan.rollback.revert_succeeded_on_abort
        self._canceled(by=by, reason=reason, revert_succeeded=revert, at=at.isoformat())

    def finish(self, by: str, at: datetime) -> bool:
        """A dynamic deployment takes no new device, completes once no install is active."""
        self._refuse_if_finished()
        if not self.target.dynamic or self.status is Status.SCHEDULED:
            raise InvalidTransition(f"deployment {self.id} is not a started dynamic deployment")
        if self.finishing:
            return False
        self._finished(by=by, at=at.isoformat())
        return True

    def complete(self, succeeded: int, failed: int, canceled: int, at: datetime) -> None:
        """Every execution of the last wave has ended (a finishing one: every install)."""
        self._refuse_if_finished()
        if not self.finishing:
            self._require_current(len(self.plan.waves) - 1)
        self._completed(succeeded=succeeded, failed=failed, canceled=canceled, at=at.isoformat())

    def _refuse_if_finished(self) -> None:
        if self.status in FINISHED:
            raise DeploymentFinished(f"deployment {self.id} is {self.status.lower()}")

    def _require_running(self) -> None:
        self._refuse_if_finished()
        if self.status is not Status.RUNNING:
            raise InvalidTransition(f"deployment {self.id} is {self.status.lower()}")

    def _require_current(self, wave: int) -> None:
        self._require_running()
        if wave != self.wave:
            raise InvalidTransition(f"wave {wave} is not the wave running ({self.wave})")

    @event("Started")
    def _started(self, *, at: str, targets: int) -> None:
        self.status = Status.RUNNING

    @event("WaveApprovalRequested")
    def _approval_requested(self, *, wave: int, at: str) -> None:
        self.status = Status.AWAITING_APPROVAL

    @event("WaveApproved")
    def _wave_approved(self, *, wave: int, by: str, at: str) -> None:
        self.status = Status.RUNNING
        self.approved.add(wave)

    @event("WaveStarted")
    def _wave_started(self, *, wave: int, members: int, at: str) -> None:
        self.wave = wave

    @event("SoakStarted")
    def _soak_started(self, *, wave: int, until: str) -> None:
        self.soaking = wave

    @event("HealthChecked")
    def _health_checked(self, *, wave: int, passed: bool, evidence: dict[str, Any]) -> None:
        self.soaking = None
        if passed:
            self.healthy.add(wave)

    @event("WavePromoted")
    def _wave_promoted(
        self, *, wave: int, succeeded: int, failed: int, members: int, at: str
    ) -> None:
        self.promoted.add(wave)

    @event("Paused")
    def _paused(
        self, *, by: str, wave: int | None, reason: str, evidence: dict[str, Any], at: str
    ) -> None:
        self.paused_from, self.status = self.status, Status.PAUSED

    @event("Resumed")
    def _resumed(self, *, by: str, at: str) -> None:
        self.status, self.paused_from = self.paused_from or Status.RUNNING, None

    @event("Aborted")
    def _aborted(
        self,
        *,
        wave: int | None,
        reason: str,
        evidence: dict[str, Any],
        revert_succeeded: bool,
        at: str,
    ) -> None:
        self.status = Status.ABORTED

    @event("Canceled")
    def _canceled(self, *, by: str, reason: str | None, revert_succeeded: bool, at: str) -> None:
        self.status = Status.CANCELED

    @event("Finished")
    def _finished(self, *, by: str, at: str) -> None:
        self.finishing = True

    @event("Completed")
    def _completed(self, *, succeeded: int, failed: int, canceled: int, at: str) -> None:
        self.status = Status.COMPLETED


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
DEPLOYMENT_CREATED = event_name(Deployment, "Created")
DEPLOYMENT_STARTED = event_name(Deployment, "Started")
DEPLOYMENT_WAVE_APPROVAL_REQUESTED = event_name(Deployment, "WaveApprovalRequested")
DEPLOYMENT_WAVE_APPROVED = event_name(Deployment, "WaveApproved")
DEPLOYMENT_WAVE_STARTED = event_name(Deployment, "WaveStarted")
DEPLOYMENT_SOAK_STARTED = event_name(Deployment, "SoakStarted")
DEPLOYMENT_HEALTH_CHECKED = event_name(Deployment, "HealthChecked")
DEPLOYMENT_WAVE_PROMOTED = event_name(Deployment, "WavePromoted")
DEPLOYMENT_PAUSED = event_name(Deployment, "Paused")
DEPLOYMENT_RESUMED = event_name(Deployment, "Resumed")
DEPLOYMENT_ABORTED = event_name(Deployment, "Aborted")
DEPLOYMENT_CANCELED = event_name(Deployment, "Canceled")
DEPLOYMENT_FINISHED = event_name(Deployment, "Finished")
DEPLOYMENT_COMPLETED = event_name(Deployment, "Completed")
# fmt: off
DEPLOYMENT_EVENTS = (
    DEPLOYMENT_CREATED, DEPLOYMENT_STARTED, DEPLOYMENT_WAVE_APPROVAL_REQUESTED,
    DEPLOYMENT_WAVE_APPROVED, DEPLOYMENT_WAVE_STARTED, DEPLOYMENT_SOAK_STARTED,
    DEPLOYMENT_HEALTH_CHECKED, DEPLOYMENT_WAVE_PROMOTED, DEPLOYMENT_PAUSED, DEPLOYMENT_RESUMED,
    DEPLOYMENT_ABORTED, DEPLOYMENT_CANCELED, DEPLOYMENT_FINISHED, DEPLOYMENT_COMPLETED,
)
# fmt: on
