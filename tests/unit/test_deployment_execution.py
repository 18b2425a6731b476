"""The per-device execution state machine (docs/firmware.md section 12.3): examples of each
rule, then a hypothesis state machine over any sequence of device updates, version reports,
timers and cancels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.hypothesis_profiles import examples
from write_side.deployment_errors import InvalidTransition, StaleUpdate
from write_side.deployment_execution import (
    DeviceUpdate,
    Execution,
    ExecutionPolicy,
    Step,
    abandon_retry,
    apply_update,
    cancel,
    needs_revert,
    notify,
    observe_version,
    retry,
    stall,
)
from write_side.deployment_retry import RetryPolicy, StallTimeouts
from write_side.deployment_states import ACTIVE, TERMINAL, ExecutionState, FailureKind, UpdateStatus
from write_side.errors import InvalidInput

S = ExecutionState
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TARGET, OLD, OTHER = "2.0.0", "1.0.0", "1.5.0"
POLICY = ExecutionPolicy()


def queued() -> Execution:
    return Execution(key="exec-1", target_version=TARGET, from_version=OLD)


def notified() -> Execution:
    return notify(queued(), T0, POLICY).execution


def update(seq: int, status: str, minutes: int = 1, **fields: object) -> DeviceUpdate:
    return DeviceUpdate(seq, UpdateStatus(status), T0 + timedelta(minutes=minutes), **fields)  # type: ignore[arg-type]


def run(execution: Execution, *updates: DeviceUpdate) -> Step:
    step = Step(execution, None)
    for u in updates:
        step = apply_update(step.execution, u, POLICY)
    return step


def test_the_happy_path_ends_succeeded_only_on_the_reported_target_version() -> None:
    step = run(
        notified(),
        update(1, "downloading", percent=10),
        update(2, "downloaded"),
        update(3, "installing"),
        update(4, "succeeded"),
    )
    assert step.execution.state is S.INSTALLING  # "done" without a version: not yet
    assert step.transition is not None
    assert step.transition.reason == "done_claimed"
    done = observe_version(step.execution, TARGET, T0 + timedelta(minutes=9), "telemetry")
    assert done.execution.state is S.SUCCEEDED
    assert done.transition is not None
    assert done.transition.version == TARGET


def test_done_with_the_target_version_succeeds_at_once() -> None:
    step = run(notified(), update(1, "installing"), update(2, "succeeded", version=TARGET))
    assert step.execution.state is S.SUCCEEDED
    assert step.transition is not None
    assert step.transition.seq == 2


def test_the_old_version_after_done_is_rolled_back_never_succeeded() -> None:
    step = run(notified(), update(1, "installing"), update(2, "succeeded", minutes=5))
    before_done = observe_version(step.execution, OLD, T0 + timedelta(minutes=4), "telemetry")
    assert before_done.transition is None  # sent before the device said done
    after = observe_version(step.execution, OLD, T0 + timedelta(minutes=6), "telemetry")
    assert after.execution.state is S.ROLLED_BACK
    assert after.transition is not None
    assert after.transition.version == OLD
    assert not needs_revert(after.transition, OLD)  # it is back where it came from


def test_done_naming_another_version_is_rolled_back() -> None:
    step = run(notified(), update(1, "succeeded", version=OTHER))
    assert step.execution.state is S.ROLLED_BACK
    assert step.transition is not None
    assert needs_revert(step.transition, OLD)


def test_before_done_the_old_version_decides_nothing() -> None:
    step = run(notified(), update(1, "downloading"))
    assert observe_version(step.execution, OLD, T0 + timedelta(hours=1), "telemetry") == Step(
        step.execution, None
    )


def test_a_device_already_on_the_target_succeeds_without_a_job() -> None:
    step = observe_version(queued(), TARGET, T0, "telemetry")
    assert step.execution.state is S.SUCCEEDED
    assert step.transition is not None
    assert step.transition.reason == "already_current"


def test_updates_skip_forward_but_never_go_back() -> None:
    step = run(notified(), update(1, "installing"))
    assert step.execution.state is S.INSTALLING
    with pytest.raises(InvalidTransition):
        apply_update(step.execution, update(2, "downloading"), POLICY)


def test_progress_within_a_state_moves_the_stall_deadline() -> None:
    first = run(notified(), update(1, "downloading", minutes=1, percent=10))
    second = apply_update(first.execution, update(2, "downloading", minutes=20, percent=60), POLICY)
    assert second.transition is not None
    assert second.transition.reason == "progress"
    assert second.execution.stall_deadline == T0 + timedelta(minutes=50)


def test_a_repeated_sequence_number_is_applied_once() -> None:
    step = run(notified(), update(1, "downloading"), update(2, "downloaded"))
    again = apply_update(step.execution, update(1, "downloading"), POLICY)
    assert again == Step(step.execution, None)


def test_a_stale_sequence_number_is_refused() -> None:
    step = run(notified(), update(5, "downloading"))
    with pytest.raises(StaleUpdate):
        apply_update(step.execution, update(3, "downloaded"), POLICY)


def test_no_update_is_taken_before_notification_or_after_the_end() -> None:
    with pytest.raises(InvalidTransition):
        apply_update(queued(), update(1, "downloading"), POLICY)
    done = run(notified(), update(1, "rejected", reason="battery low"))
    assert done.execution.state is S.REJECTED
    with pytest.raises(InvalidTransition):
        apply_update(done.execution, update(2, "downloading"), POLICY)


def test_a_job_cannot_be_rejected_once_installing() -> None:
    step = run(notified(), update(1, "installing"))
    with pytest.raises(InvalidTransition):
        apply_update(step.execution, update(2, "rejected"), POLICY)


def test_a_failure_with_retries_left_is_retried_after_its_backoff() -> None:
    step = run(notified(), update(1, "failed", kind=FailureKind.DOWNLOAD, reason="http 500"))
    failed = step.execution
    assert failed.state is S.FAILED
    assert failed.retry_at is not None
    assert T0 + timedelta(seconds=90) <= failed.retry_at <= T0 + timedelta(seconds=120)
    assert retry(failed, failed.retry_at - timedelta(seconds=1)) == Step(failed, None)
    requeued = retry(failed, failed.retry_at).execution
    assert (requeued.state, requeued.retry_at) == (S.QUEUED, None)
    assert notify(requeued, failed.retry_at, POLICY).execution.attempt == 2


def test_a_failure_without_retries_left_is_final() -> None:
    step = run(notified(), update(1, "installing"), update(2, "failed"))  # install: 1 retry
    again = notify(retry(step.execution, step.execution.retry_at or T0).execution, T0, POLICY)
    final = run(again.execution, update(3, "installing"), update(4, "failed"))
    assert (final.execution.state, final.execution.retry_at) == (S.FAILED, None)
    assert final.transition is not None
    assert needs_revert(final.transition, OLD)
    with pytest.raises(InvalidTransition):
        retry(final.execution, T0 + timedelta(days=1))


def test_a_stall_is_retried_then_times_out() -> None:
    policy = ExecutionPolicy(retry=RetryPolicy(max_retries={FailureKind.STALLED: 1}))
    execution = notify(queued(), T0, policy).execution
    assert stall(execution, T0 + timedelta(hours=23), policy) == Step(execution, None)  # not due
    stalled = stall(execution, T0 + timedelta(hours=24), policy).execution
    assert stalled.state is S.FAILED
    assert stalled.retry_at is not None
    execution = notify(retry(stalled, stalled.retry_at).execution, stalled.retry_at, policy)
    due = execution.execution.stall_deadline or T0
    timed_out = stall(execution.execution, due, policy)
    assert timed_out.execution.state is S.TIMED_OUT
    assert timed_out.transition is not None
    assert timed_out.transition.kind is FailureKind.STALLED


def test_cancel_before_the_install_and_not_during_it() -> None:
    assert cancel(notified(), T0, "canceled").execution.state is S.CANCELED
    installing = run(notified(), update(1, "installing")).execution
    with pytest.raises(InvalidTransition):
        cancel(installing, T0, "canceled")


def test_an_abandoned_retry_leaves_the_execution_failed_for_good() -> None:
    failed = run(notified(), update(1, "failed")).execution
    step = abandon_retry(failed, T0, "deployment_canceled")
    assert (step.execution.state, step.execution.retry_at) == (S.FAILED, None)
    with pytest.raises(InvalidTransition):
        retry(step.execution, T0 + timedelta(days=1))


def test_bad_updates_and_policies_name_their_field() -> None:
    for bad, name in (
        (lambda: update(0, "downloading"), "seq"),
        (lambda: update(1, "downloading", percent=101), "percent"),
        (lambda: update(1, "succeeded", version=""), "version"),
        (lambda: StallTimeouts(installing=timedelta(0)), "stallTimeouts.installing"),
        (lambda: RetryPolicy(factor=0.5), "retry.factor"),
        (lambda: RetryPolicy(max_retries={FailureKind.INSTALL: 11}), "retry.maxRetries.install"),
    ):
        with pytest.raises(InvalidInput) as raised:
            bad()
        assert raised.value.field == name


def test_backoff_grows_is_capped_and_replays_the_same() -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), factor=3.0, max_delay=timedelta(minutes=5))
    delays = [policy.delay("exec-1", n) for n in range(1, 8)]
    assert delays == [policy.delay("exec-1", n) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        cap = min(300.0, 10.0 * 3.0 ** (n - 1))
        assert cap / 2 <= delay.total_seconds() <= cap
    assert policy.delay("exec-1", 1) != policy.delay("exec-2", 1)  # jitter per execution


VERSIONS = st.sampled_from([TARGET, OLD, OTHER])
STATUSES = st.sampled_from(list(UpdateStatus))
SMALL_RETRIES = RetryPolicy(max_retries=dict.fromkeys(FailureKind, 1), base=timedelta(seconds=30))


class ExecutionMachine(RuleBasedStateMachine):
    """Any sequence of inputs: terminal states are left only by a granted retry, SUCCEEDED
    only on the target version, the old version after "done" is ROLLED_BACK, and an update
    repeated with its sequence number is applied once."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = ExecutionPolicy(retry=SMALL_RETRIES)
        self.execution = queued()
        self.now = T0
        self.applied: list[DeviceUpdate] = []
        self.success_version: str | None = None

    def step(self, run_input: Callable[[], Step]) -> None:
        """Apply one input; check the step against the state it started from."""
        before = self.execution
        try:
            step = run_input()
        except (InvalidTransition, StaleUpdate):
            return  # nothing changed: self.execution is still `before`
        moved = step.transition
        if moved is None:
            assert step.execution.state is before.state
        else:
            assert moved.from_state is before.state
            assert step.execution.state is moved.to_state
            if before.state in TERMINAL:  # only a granted retry, or its withdrawal
                assert before.state is S.FAILED
                assert before.retry_at is not None
                assert moved.to_state in (S.QUEUED, S.FAILED)
            if moved.to_state is S.SUCCEEDED:
                assert moved.version == TARGET
                self.success_version = moved.version
        self.execution = step.execution

    def tick(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    @rule(seconds=st.integers(0, 600))
    def notify(self, seconds: int) -> None:
        at = self.tick(seconds)
        self.step(lambda: notify(self.execution, at, self.policy))

    @rule(
        status=STATUSES,
        version=st.none() | VERSIONS,
        percent=st.none() | st.integers(0, 100),
        gap=st.integers(1, 3),
        seconds=st.integers(0, 600),
    )
    def device_update(
        self, status: UpdateStatus, version: str | None, percent: int | None, gap: int, seconds: int
    ) -> None:
        at = self.tick(seconds)
        u = DeviceUpdate(self.execution.last_seq + gap, status, at, percent, version)
        self.step(lambda: apply_update(self.execution, u, self.policy))
        if u.seq in self.execution.applied:
            self.applied.append(u)

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def repeat_an_update(self, data: st.DataObject) -> None:
        u = data.draw(st.sampled_from(self.applied))
        assert apply_update(self.execution, u, self.policy) == Step(self.execution, None)

    @precondition(lambda self: self.execution.last_seq > 1)
    @rule(data=st.data())
    def stale_update(self, data: st.DataObject) -> None:
        unseen = set(range(1, self.execution.last_seq)) - self.execution.applied
        if unseen:
            u = DeviceUpdate(
                data.draw(st.sampled_from(sorted(unseen))), UpdateStatus.FAILED, self.now
            )
            with pytest.raises(StaleUpdate):
                apply_update(self.execution, u, self.policy)

    @rule(version=VERSIONS, seconds=st.integers(0, 600))
    def telemetry(self, version: str, seconds: int) -> None:
        at = self.tick(seconds)
        before = self.execution
        self.step(lambda: observe_version(self.execution, version, at, "telemetry"))
        if before.state not in TERMINAL and before.done_at is not None and version == OLD:
            assert self.execution.state is S.ROLLED_BACK

    @precondition(lambda self: self.execution.state in ACTIVE)
    @rule(seconds=st.integers(0, 600))
    def done_then_the_old_version(self, seconds: int) -> None:
        """From any active state: "done" without a version, then the old version reported."""
        done = DeviceUpdate(self.execution.last_seq + 1, UpdateStatus.SUCCEEDED, self.tick(0))
        self.step(lambda: apply_update(self.execution, done, self.policy))
        self.applied.append(done)
        at = self.tick(seconds)
        self.step(lambda: observe_version(self.execution, OLD, at, "telemetry"))
        assert self.execution.state is S.ROLLED_BACK

    @rule(seconds=st.integers(0, 2 * 3600))
    def stall_timer(self, seconds: int) -> None:
        at = self.tick(seconds)
        self.step(lambda: stall(self.execution, at, self.policy))

    @rule(seconds=st.integers(0, 120))
    def retry_timer(self, seconds: int) -> None:
        at = self.tick(seconds)
        self.step(lambda: retry(self.execution, at))

    @rule()
    def cancel(self) -> None:
        self.step(lambda: cancel(self.execution, self.now, "deployment_canceled"))

    @invariant()
    def succeeded_only_on_the_target_version(self) -> None:
        if self.execution.state is S.SUCCEEDED:
            assert self.success_version == TARGET

    @invariant()
    def attempts_are_bounded_by_the_retries(self) -> None:
        granted = sum(SMALL_RETRIES.max_retries.values())
        assert self.execution.attempt <= 1 + granted
        assert sum(count for _, count in self.execution.failures) <= 1 + granted
        if self.execution.retry_at is not None:
            assert self.execution.state is S.FAILED

    @invariant()
    def the_last_sequence_number_is_the_highest_applied(self) -> None:
        assert self.execution.last_seq == max(self.execution.applied, default=0)


ExecutionMachine.TestCase.settings = settings(
    max_examples=examples(200),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExecutionMachine = ExecutionMachine.TestCase
