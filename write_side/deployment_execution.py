"""One device's execution of a deployment as a pure state machine (docs/firmware.md 12.3).

QUEUED -> NOTIFIED -> DOWNLOADING -> DOWNLOADED -> INSTALLING -> SUCCEEDED, or FAILED,
TIMED_OUT, REJECTED, CANCELED, ROLLED_BACK. Every function takes an `Execution` and an input
(a device update, a reported version, a timer, an operator's cancel) and returns a `Step`: the
next `Execution` and the `Transition` to record, or None when there is nothing to record (a
duplicate update, a stale timer, a version report that decides nothing). Invalid input raises
and changes nothing. No I/O, no clock: inputs carry their times, so a replay decides the same.

Two rules the field's systems break are kept here. The version the device reports is the
truth: SUCCEEDED only on a report of the target version, and a device that said "done" and then
reports another version is ROLLED_BACK. A terminal state is left only by a granted retry
(FAILED with `retry_at` -> QUEUED).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from write_side.deployment_errors import InvalidTransition, StaleUpdate
from write_side.deployment_retry import RetryPolicy, StallTimeouts
from write_side.deployment_states import (
    ACTIVE,
    CANCELABLE,
    CHAIN,
    PROGRESS,
    REJECTABLE,
    TERMINAL,
    ExecutionState,
    FailureKind,
    UpdateStatus,
)
from write_side.errors import InvalidInput

MAX_REASON = 500
State = ExecutionState


@dataclass(frozen=True, slots=True)
class DeviceUpdate:
    """A job update from the device; `seq` increases per execution, across attempts."""

    seq: int
    status: UpdateStatus
    at: datetime
    percent: int | None = None
    version: str | None = None
    kind: FailureKind | None = None  # for `failed`
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.seq < 1:
            raise InvalidInput("seq starts at 1", "seq")
        if self.percent is not None and not 0 <= self.percent <= 100:
            raise InvalidInput("percent is 0..100", "percent")
        if self.version is not None and not 1 <= len(self.version) <= 64:
            raise InvalidInput("a version has 1..64 characters", "version")
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise InvalidInput(f"a reason has at most {MAX_REASON} characters", "reason")


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """The deployment's settings an execution follows."""

    timeouts: StallTimeouts = field(default_factory=StallTimeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class Transition:
    """What to record: one event of the execution, with its time and reason."""

    from_state: State
    to_state: State  # equal to `from_state` for progress within a state
    reason: str
    at: datetime
    seq: int | None = None
    percent: int | None = None
    version: str | None = None  # the reported version, for SUCCEEDED and ROLLED_BACK
    kind: FailureKind | None = None
    retry_at: datetime | None = None  # a FAILED execution that will be retried
    stall_deadline: datetime | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    key: str  # the execution's id as text (the jitter of its backoff)
    target_version: str
    from_version: str | None = None
    state: State = State.QUEUED
    attempt: int = 0
    failures: tuple[tuple[FailureKind, int], ...] = ()  # failures so far, per kind
    applied: frozenset[int] = frozenset()  # the sequence numbers applied
    last_seq: int = 0
    done_at: datetime | None = None  # the device said "done" (without the target version)
    retry_at: datetime | None = None
    stall_deadline: datetime | None = None

    def failures_of(self, kind: FailureKind) -> int:
        return dict(self.failures).get(kind, 0)


@dataclass(frozen=True, slots=True)
class Step:
    execution: Execution
    transition: Transition | None  # None: nothing to record


def notify(execution: Execution, at: datetime, policy: ExecutionPolicy) -> Step:
    """The orchestrator told the device (QUEUED -> NOTIFIED, the next attempt)."""
    if execution.state is not State.QUEUED:
        raise InvalidTransition(f"only a queued execution is notified, not {execution.state}")
    deadline = policy.timeouts.deadline(State.NOTIFIED, at)
    moved = Transition(State.QUEUED, State.NOTIFIED, "notified", at, stall_deadline=deadline)
    return _to(execution, moved, attempt=execution.attempt + 1, done_at=None)


def apply_update(execution: Execution, update: DeviceUpdate, policy: ExecutionPolicy) -> Step:
    """A device's job update. A sequence number already applied is a duplicate (nothing to
    record); a lower one not applied is stale; nothing is expected outside the active states."""
    if update.seq in execution.applied:
        return Step(execution, None)
    if update.seq < execution.last_seq:
        raise StaleUpdate(f"seq {update.seq} is older than {execution.last_seq}")
    if execution.state not in ACTIVE:
        raise InvalidTransition(f"no update is expected in {execution.state}")
    step = _decide(execution, update, policy)
    seen = replace(step.execution, applied=execution.applied | {update.seq}, last_seq=update.seq)
    return Step(seen, step.transition)


def observe_version(execution: Execution, version: str, at: datetime, source: str) -> Step:
    """The device reported running `version` (`source`: "telemetry", "update"). The target
    version ends any execution not yet ended with SUCCEEDED; another version after "done" (and
    reported no earlier than it) is ROLLED_BACK; otherwise the report decides nothing."""
    state = execution.state
    if state in TERMINAL:
        return Step(execution, None)
    if version == execution.target_version:
        why = "already_current" if state is State.QUEUED else f"reported_by_{source}"
        return _to(execution, Transition(state, State.SUCCEEDED, why, at, version=version))
    if execution.done_at is not None and at >= execution.done_at:
        moved = Transition(state, State.ROLLED_BACK, f"reported_by_{source}", at, version=version)
        return _to(execution, moved)
    return Step(execution, None)


def stall(execution: Execution, at: datetime, policy: ExecutionPolicy) -> Step:
    """A stall timer fired. Stale (the execution moved on or ended): nothing to record."""
    deadline = execution.stall_deadline
    if execution.state not in ACTIVE or deadline is None or at < deadline:
        return Step(execution, None)
    return _fail(execution, FailureKind.STALLED, f"stalled in {execution.state}", at, policy)


def retry(execution: Execution, at: datetime) -> Step:
    """A retry timer fired: FAILED with a retry granted -> QUEUED (the only way out of a
    terminal state). Not yet due: nothing to record."""
    due = execution.retry_at
    if execution.state is not State.FAILED or due is None:
        raise InvalidTransition(f"no retry is pending in {execution.state}")
    if at < due:
        return Step(execution, None)
    moved = Transition(State.FAILED, State.QUEUED, "retry", at)
    return _to(execution, moved, retry_at=None, done_at=None)


def abandon_retry(execution: Execution, at: datetime, reason: str) -> Step:
    """The deployment ended before a pending retry: the execution stays FAILED, for good."""
    if execution.state is not State.FAILED or execution.retry_at is None:
        raise InvalidTransition(f"no retry is pending in {execution.state}")
    return _to(execution, Transition(State.FAILED, State.FAILED, reason, at), retry_at=None)


def cancel(execution: Execution, at: datetime, reason: str) -> Step:
    """Cancel before the install starts; a running install cannot be interrupted."""
    if execution.state not in CANCELABLE:
        raise InvalidTransition(f"an execution in {execution.state} cannot be canceled")
    return _to(execution, Transition(execution.state, State.CANCELED, reason, at))


def needs_revert(transition: Transition, from_version: str | None) -> bool:
    """Whether the rollback policy's REVERT applies: the install failed or stalled, or the
    device ended on a version that is neither the target nor the one it came from."""
    if transition.to_state in (State.FAILED, State.TIMED_OUT):
        return transition.from_state is State.INSTALLING
    return transition.to_state is State.ROLLED_BACK and transition.version != from_version


def _decide(execution: Execution, update: DeviceUpdate, policy: ExecutionPolicy) -> Step:
    state, at = execution.state, update.at
    if update.status is UpdateStatus.FAILED:
        kind = update.kind or _default_kind(state)
        return _fail(execution, kind, update.reason or kind, at, policy, seq=update.seq)
    if update.status is UpdateStatus.REJECTED:
        if state not in REJECTABLE:
            raise InvalidTransition(f"a job cannot be rejected in {state}")
        moved = Transition(state, State.REJECTED, update.reason or "rejected", at, update.seq)
        return _to(execution, moved)
    if update.version is not None:
        done = update.status is UpdateStatus.SUCCEEDED
        claimed = execution if not done else replace(execution, done_at=at)
        step = observe_version(claimed, update.version, at, "update")
        if step.transition is not None:
            return Step(step.execution, replace(step.transition, seq=update.seq))
    if update.status is UpdateStatus.SUCCEEDED:
        deadline = policy.timeouts.deadline(State.INSTALLING, at)
        moved = Transition(
            state, State.INSTALLING, "done_claimed", at, update.seq, stall_deadline=deadline
        )
        return _to(execution, moved, done_at=execution.done_at or at)  # the first "done" counts
    target = PROGRESS[update.status]
    if CHAIN.index(target) < CHAIN.index(state) or execution.done_at is not None:
        raise InvalidTransition(f"{update.status} after {state} goes backwards")
    deadline = policy.timeouts.deadline(target, at)
    why = "progress" if target is state else "advanced"
    moved = Transition(state, target, why, at, update.seq, update.percent, stall_deadline=deadline)
    return _to(execution, moved)


def _fail(
    execution: Execution,
    kind: FailureKind,
    reason: str,
    at: datetime,
    policy: ExecutionPolicy,
    *,
    seq: int | None = None,
) -> Step:
    """FAILED with a retry when the kind has retries left; else FAILED for good, or TIMED_OUT
    for a stall."""
    before = execution.failures_of(kind)
    failures = tuple({**dict(execution.failures), kind: before + 1}.items())
    retry_at = None
    if policy.retry.allows(kind, before):
        retry_at = at + policy.retry.delay(execution.key, before + 1)
    final_stall = kind is FailureKind.STALLED and retry_at is None
    to_state = State.TIMED_OUT if final_stall else State.FAILED
    moved = Transition(execution.state, to_state, reason, at, seq, kind=kind, retry_at=retry_at)
    return _to(execution, moved, failures=failures, retry_at=retry_at)


def _default_kind(state: State) -> FailureKind:
    if state is State.INSTALLING:
        return FailureKind.INSTALL
    return FailureKind.VERIFY if state is State.DOWNLOADED else FailureKind.DOWNLOAD


def _to(execution: Execution, transition: Transition, **changes: object) -> Step:
    """The execution after `transition`: its state and stall deadline, plus `changes`."""
    moved = replace(
        execution,
        state=transition.to_state,
        stall_deadline=transition.stall_deadline,
        **changes,  # type: ignore[arg-type]
    )
    return Step(moved, transition)
