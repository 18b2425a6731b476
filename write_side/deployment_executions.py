"""The DeploymentExecution aggregate: one device's execution of one deployment for one purpose
(`install`, or `revert` to the version it came from), on a stream of its own so device reports
never contend on the deployment's (docs/firmware.md 12.3 and 12.6). Each method asks the pure
machine (`write_side/deployment_execution.py`) and records the `Transition` it returns as one
event; the `@event` methods rebuild the machine's `Execution` from the events alone, so a loaded
stream decides exactly as the one that recorded it. Nothing to record (a duplicate update):
no event; a refused input raises and records nothing. Times in events are ISO 8601 strings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from write_side import deployment_execution as machine
from write_side.deployment_execution import DeviceUpdate, Execution, ExecutionPolicy, Step
from write_side.deployment_states import (
    CHAIN,
    AbandonReason,
    Channel,
    ExecutionState,
    FailureKind,
    Purpose,
    QueueReason,
    UpdateSource,
    UpdateStatus,
    execution_id,
)
from write_side.errors import InvalidInput
from write_side.event_names import event_name

S = ExecutionState


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class DeploymentExecution(Aggregate):
    """Create with `DeploymentExecution.queue(...)`; `execution` is the pure machine's value."""

    @staticmethod
    def create_id(tenant_id: str, deployment_id: str, device_id: str, purpose: str) -> UUID:
        return execution_id(tenant_id, UUID(deployment_id), UUID(device_id), purpose)

    @classmethod
    def queue(
        cls,
        *,
        tenant_id: str,
        deployment_id: UUID,
        device_id: UUID,
        purpose: Purpose,
        wave: int,
        firmware_id: UUID,
        target_version: str,
        from_version: str | None,
        reason: QueueReason,
        not_before: datetime | None,
        at: datetime,
    ) -> DeploymentExecution:
        if wave < 0:
            raise InvalidInput("waves count from 0", "wave")
        return cls(
            tenant_id=tenant_id,
            deployment_id=str(deployment_id),
            device_id=str(device_id),
            purpose=purpose,
            wave=wave,
            firmware_id=str(firmware_id),
            target_version=target_version,
            from_version=from_version,
            reason=reason,
            not_before=_iso(not_before),
            at=at.isoformat(),
        )

    @event("Queued")
    def __init__(
        self,
        *,
        tenant_id: str,
        deployment_id: str,
        device_id: str,
        purpose: str,
        wave: int,
        firmware_id: str,
        target_version: str,
        from_version: str | None,
        reason: str,
        not_before: str | None,
        at: str,
    ) -> None:
        self.tenant_id, self.purpose, self.wave = tenant_id, purpose, wave
        self.deployment_id, self.device_id = UUID(deployment_id), UUID(device_id)
        self.firmware_id = UUID(firmware_id)
        self.execution = Execution(str(self.id), target_version, from_version)

    # Commands: ask the machine, record its transition ------------------------------------------

    def notify(self, at: datetime, channel: Channel, policy: ExecutionPolicy) -> None:
        done = machine.notify(self.execution, at, policy).execution
        deadline, attempt = _iso(done.stall_deadline), done.attempt
        self._notified(attempt=attempt, channel=channel, stall_deadline=deadline, at=at.isoformat())

    def report(self, update: DeviceUpdate, policy: ExecutionPolicy, revert: bool) -> bool:
        """A device's job update; False when it is a duplicate (nothing recorded). `revert`:
        the plan's `onExecutionFailure` is REVERT."""
        if update.kind is FailureKind.STALLED:
            raise InvalidInput("a device does not report a stall", "kind")
        step = machine.apply_update(self.execution, update, policy)
        done = update.status is UpdateStatus.SUCCEEDED
        return self._record(step, "update", done, revert)

    def observe_version(
        self, version: str, at: datetime, source: UpdateSource, revert: bool = False
    ) -> bool:
        """The device reported running `version`; False when that decides nothing."""
        step = machine.observe_version(self.execution, version, at, source)
        return self._record(step, source, False, revert)

    def stall(self, at: datetime, policy: ExecutionPolicy, revert: bool) -> bool:
        """A stall timer fired; False when stale."""
        step = machine.stall(self.execution, at, policy)
        return self._record(step, "timer", False, revert)

    def retry(self, at: datetime) -> bool:
        """A retry timer fired (FAILED -> QUEUED); False when not yet due."""
        return self._record(machine.retry(self.execution, at), "timer", False, False)

    def abandon_retry(self, at: datetime, reason: AbandonReason) -> None:
        self._record(machine.abandon_retry(self.execution, at, reason), "timer", False, False)

    def cancel(self, at: datetime, reason: str) -> None:
        if not 1 <= len(reason) <= machine.MAX_REASON:
            raise InvalidInput(f"a reason has 1..{machine.MAX_REASON} characters", "reason")
        self._record(machine.cancel(self.execution, at, reason), "user", False, False)

    def _record(self, step: Step, source: str, done: bool, revert: bool) -> bool:
        """Record `step.transition` as its event (None: nothing, False)."""
        moved = step.transition
        if moved is None:
            return False
        at, seq, to = moved.at.isoformat(), moved.seq, moved.to_state
        reverts = revert and machine.needs_revert(moved, self.execution.from_version)
        if to in CHAIN:
            self._advanced(
                from_state=str(moved.from_state),
                to_state=str(to),
                seq=seq,
                percent=moved.percent,
                done_claimed=moved.reason == "done_claimed",
                stall_deadline=_iso(moved.stall_deadline),
                at=at,
            )
        elif to in (S.SUCCEEDED, S.ROLLED_BACK):
            rolled_back = partial(self._rolled_back, revert=reverts)
            record = self._succeeded if to is S.SUCCEEDED else rolled_back
            kind = "already_current" if moved.reason == "already_current" else source
            assert moved.version is not None
            record(reported_version=moved.version, source=kind, seq=seq, done_claimed=done, at=at)
        elif to is S.QUEUED:
            self._retried(attempt=self.execution.attempt + 1, at=at)
        elif to is S.FAILED and moved.from_state is S.FAILED:
            self._retry_abandoned(reason=moved.reason, at=at)
        elif to is S.FAILED:
            assert moved.kind is not None
            self._failed(
                from_state=str(moved.from_state), kind=str(moved.kind), reason=moved.reason,
                seq=seq, retry_at=_iso(moved.retry_at), revert=reverts, at=at,
            )  # fmt: skip
        elif to is S.TIMED_OUT:
            self._timed_out(stalled_in=str(moved.from_state), at=at, revert=reverts)
        elif to is S.REJECTED:
            assert seq is not None
            self._rejected(reason=moved.reason, seq=seq, at=at)
        else:
            self._canceled(from_state=str(moved.from_state), reason=moved.reason, at=at)
        return True

    # Events: each rebuilds the machine's value ---------------------------------------------------

    def _moved(self, state: ExecutionState, seq: int | None = None, **changes: object) -> None:
        changes = {"stall_deadline": None, **changes}
        execution = replace(self.execution, state=state, **changes)  # type: ignore[arg-type]
        if seq is not None:
            execution = replace(execution, applied=execution.applied | {seq}, last_seq=seq)
        self.execution = execution

    def _failure(self, kind: FailureKind) -> tuple[tuple[FailureKind, int], ...]:
        before = self.execution.failures_of(kind)
        return tuple({**dict(self.execution.failures), kind: before + 1}.items())

    @event("Notified")
    def _notified(self, *, attempt: int, channel: str, stall_deadline: str | None, at: str) -> None:
        self._moved(S.NOTIFIED, attempt=attempt, done_at=None, stall_deadline=_time(stall_deadline))

    @event("Advanced")
    def _advanced(
        self,
        *,
        from_state: str,
        to_state: str,
        seq: int | None,
        percent: int | None,
        done_claimed: bool,
        stall_deadline: str | None,
        at: str,
    ) -> None:
        first_done = datetime.fromisoformat(at) if done_claimed else None
        done_at = self.execution.done_at or first_done  # the first "done" counts
        self._moved(S(to_state), seq, done_at=done_at, stall_deadline=_time(stall_deadline))

    def _ended(self, state: ExecutionState, seq: int | None, done: bool, at: str) -> None:
        done_at = datetime.fromisoformat(at) if done else self.execution.done_at
        self._moved(state, seq, done_at=done_at)

    @event("Succeeded")
    def _succeeded(
        self, *, reported_version: str, source: str, seq: int | None, done_claimed: bool, at: str
    ) -> None:
        self._ended(S.SUCCEEDED, seq, done_claimed, at)

    @event("RolledBack")
    def _rolled_back(
        self, *, reported_version: str, source: str, seq: int | None, done_claimed: bool, at: str,
        revert: bool = False,  # the plan's REVERT and another version than it came from
    ) -> None:  # fmt: skip
        self._ended(S.ROLLED_BACK, seq, done_claimed, at)

    @event("Failed")
    def _failed(
        self,
        *,
        from_state: str,
        kind: str,
        reason: str,
        seq: int | None,
        retry_at: str | None,
        revert: bool,
        at: str,
    ) -> None:
        failures = self._failure(FailureKind(kind))
        self._moved(S.FAILED, seq, failures=failures, retry_at=_time(retry_at))

    @event("TimedOut")
    def _timed_out(self, *, stalled_in: str, at: str, revert: bool = False) -> None:
        self._moved(S.TIMED_OUT, failures=self._failure(FailureKind.STALLED), retry_at=None)

    @event("Rejected")
    def _rejected(self, *, reason: str, seq: int, at: str) -> None:
        self._moved(S.REJECTED, seq)

    @event("Canceled")
    def _canceled(self, *, from_state: str, reason: str, at: str) -> None:
        self._moved(S.CANCELED)

    @event("Retried")
    def _retried(self, *, attempt: int, at: str) -> None:
        """FAILED -> QUEUED; `attempt` is the one the next `Notified` starts."""
        self._moved(S.QUEUED, retry_at=None, done_at=None)

    @event("RetryAbandoned")
    def _retry_abandoned(self, *, reason: str, at: str) -> None:
        self._moved(S.FAILED, retry_at=None)


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
EXECUTION_QUEUED = event_name(DeploymentExecution, "Queued")
EXECUTION_NOTIFIED = event_name(DeploymentExecution, "Notified")
EXECUTION_ADVANCED = event_name(DeploymentExecution, "Advanced")
EXECUTION_SUCCEEDED = event_name(DeploymentExecution, "Succeeded")
EXECUTION_FAILED = event_name(DeploymentExecution, "Failed")
EXECUTION_TIMED_OUT = event_name(DeploymentExecution, "TimedOut")
EXECUTION_REJECTED = event_name(DeploymentExecution, "Rejected")
EXECUTION_CANCELED = event_name(DeploymentExecution, "Canceled")
EXECUTION_ROLLED_BACK = event_name(DeploymentExecution, "RolledBack")
EXECUTION_RETRIED = event_name(DeploymentExecution, "Retried")
EXECUTION_RETRY_ABANDONED = event_name(DeploymentExecution, "RetryAbandoned")
EXECUTION_EVENTS = (
    EXECUTION_QUEUED,
    EXECUTION_NOTIFIED,
    EXECUTION_ADVANCED,
    EXECUTION_SUCCEEDED,
    EXECUTION_FAILED,
    EXECUTION_TIMED_OUT,
    EXECUTION_REJECTED,
    EXECUTION_CANCELED,
    EXECUTION_ROLLED_BACK,
    EXECUTION_RETRIED,
    EXECUTION_RETRY_ABANDONED,
)
