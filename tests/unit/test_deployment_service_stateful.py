"""A hypothesis state machine over the deployment service (docs/firmware.md 12.3): two
deployments over the same devices, random device updates (fresh, duplicate and stale seqs),
telemetry versions, notifications, pauses, cancels, stall and retry timers. Checked after every
step: each stream, loaded afresh from the store, rebuilds exactly the `Execution` the pure
machine reaches on the same inputs; SUCCEEDED only after the target version was reported; at
most one execution is active per device; an error stores nothing."""

from __future__ import annotations

import uuid
from unittest.mock import patch
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.hypothesis_profiles import examples
from tests.unit.deployment_fixtures import OLD, OPERATOR, ORCHESTRATOR, OTHER, TARGET, World
from write_side import deployment_execution as machine
from write_side.deployment_commands import (
    ObserveVersion,
    PauseDeployment,
    ReportUpdate,
    ResumeDeployment,
)
from write_side.deployment_errors import DeviceBusy, InvalidTransition, StaleUpdate
from write_side.deployment_execution import DeviceUpdate, Execution
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_states import ACTIVE, DeploymentStatus, ExecutionState, UpdateStatus
from write_side.deployments import Deployment
from write_side.errors import DomainError

S = ExecutionState
DEVICES = (uuid.UUID(int=1), uuid.UUID(int=2))
PLAN = {"retry": {"maxRetries": {"download": 1, "install": 1, "stalled": 1}}}
statuses = st.sampled_from(list(UpdateStatus))
versions = st.sampled_from([None, TARGET, OLD, OTHER])


class DeploymentServiceMachine(RuleBasedStateMachine):
    @initialize()
    def build(self) -> None:
        self.world = World.build()
        # Deterministic deployment ids, so a failing example replays: execution ids derive
        # from them, and the backoff's jitter from the execution id.
        ids = (uuid.UUID(int=100 + n) for n in range(1000))
        with patch("eventsourcing.domain.uuid4", lambda: next(ids)):
            self.deployments: list[Deployment] = [self.world.running(**PLAN) for _ in range(2)]
        self.executions: list[UUID] = []
        self.model: dict[UUID, Execution] = {}
        self.device_of: dict[UUID, UUID] = {}
        self.deployment_of: dict[UUID, Deployment] = {}
        for deployment in self.deployments:
            for device in DEVICES:
                execution = self.world.queued(deployment, device)
                self.model[execution] = self.world.service.get_execution(
                    "acme", execution
                ).execution
                self.device_of[execution], self.deployment_of[execution] = device, deployment
                self.executions.append(execution)

    def teardown(self) -> None:
        if hasattr(self, "world"):
            self.world.app.close()

    def status(self, execution: UUID) -> DeploymentStatus:
        deployment = self.deployment_of[execution]
        return self.world.service.get("acme", deployment.id).status

    def policy(self, execution: UUID) -> machine.ExecutionPolicy:
        return self.deployment_of[execution].plan.execution

    def expect(self, step: machine.Step | type[DomainError], act: object) -> None:
        """Run `act`; it must end as the machine's `step` does, and store nothing on an error."""
        before = self.world.stored()
        assert callable(act)
        if isinstance(step, type):
            try:
                act()
            except step:
                assert self.world.stored() == before
                return
            raise AssertionError(f"expected {step.__name__}")
        act()

    @rule(index=st.integers(0, 3), channel=st.sampled_from(["mqtt", "http"]))
    def notify(self, index: int, channel: str) -> None:
        execution = self.executions[index]
        current = self.model[execution]
        device = self.device_of[execution]
        busy = any(
            self.model[other].state in ACTIVE
            for other in self.executions
            if other != execution and self.device_of[other] == device
        )
        if current.state is not S.QUEUED or self.status(execution) is not DeploymentStatus.RUNNING:
            self.expect(
                InvalidTransition,
                lambda: self.world.service.notify(execution, channel, ORCHESTRATOR),
            )  # type: ignore[arg-type]
            return
        if busy:
            self.expect(
                DeviceBusy, lambda: self.world.service.notify(execution, channel, ORCHESTRATOR)
            )  # type: ignore[arg-type]
            return
        self.world.service.notify(execution, channel, ORCHESTRATOR)  # type: ignore[arg-type]
        self.model[execution] = machine.notify(
            current, self.world.clock(), self.policy(execution)
        ).execution

    @rule(
        index=st.integers(0, 3),
        step=st.sampled_from([1, 1, 1, 2, 0, -1, -3]),  # mostly the next seq; repeats, stale ones
        status=statuses,
        version=versions,
        percent=st.none() | st.integers(0, 100),
    )
    def update(
        self, index: int, step: int, status: UpdateStatus, version: str | None, percent: int | None
    ) -> None:
        execution = self.executions[index]
        seq = max(1, self.model[execution].last_seq + step)
        at = self.world.clock.tick(30)
        command = ReportUpdate(
            device_id=self.device_of[execution], execution_id=execution, seq=seq, status=status,
            percent=percent, version=version, at=at,
        )  # fmt: skip
        pure = DeviceUpdate(seq, status, at, percent, version)
        try:
            step = machine.apply_update(self.model[execution], pure, self.policy(execution))
        except (StaleUpdate, InvalidTransition) as e:
            self.expect(type(e), lambda: self.world.service.report_update(command, ORCHESTRATOR))
            return
        saved = self.world.service.report_update(command, ORCHESTRATOR)
        assert (saved.position == 0) == (step.transition is None)  # a duplicate records nothing
        if step.execution.state is S.SUCCEEDED and self.model[execution].state is not S.SUCCEEDED:
            assert version == TARGET  # SUCCEEDED only on the reported target version
        self.model[execution] = step.execution

    @rule(device=st.sampled_from(DEVICES), version=st.sampled_from([TARGET, OLD, OTHER]))
    def telemetry(self, device: UUID, version: str) -> None:
        at = self.world.clock.tick(30)
        active = [
            e
            for e in self.executions
            if self.device_of[e] == device and self.model[e].state in ACTIVE
        ]
        saved = self.world.service.observe_version(
            ObserveVersion(device_id=device, version=version, at=at), ORCHESTRATOR
        )
        if not active:
            assert saved is None
            return
        (execution,) = active
        step = machine.observe_version(self.model[execution], version, at, "telemetry")
        assert saved is not None
        assert (saved.position == 0) == (step.transition is None)
        if step.execution.state is S.SUCCEEDED:
            assert version == TARGET
        self.model[execution] = step.execution

    @rule(index=st.integers(0, 3), roll=st.integers(0, 3))
    def cancel_execution(self, index: int, roll: int) -> None:
        if roll:  # a cancel ends a stream for good: one try in four
            return
        execution = self.executions[index]
        current = self.model[execution]

        def act() -> object:
            return self.world.service.cancel_execution(
                execution, "deployment_canceled", ORCHESTRATOR
            )

        if current.state not in machine.CANCELABLE:
            self.expect(InvalidTransition, act)
            return
        act()
        self.model[execution] = machine.cancel(
            current, self.world.clock(), "deployment_canceled"
        ).execution

    @rule(index=st.integers(0, 3), minutes=st.integers(1, 60 * 25))
    def timers(self, index: int, minutes: int) -> None:
        """The clock moves; the stall and retry timers of one execution fire (the orchestrator's
        part, on the aggregate through the application)."""
        execution = self.executions[index]
        at = self.world.clock.tick(minutes * 60)
        aggregate = self.world.service.get_execution("acme", execution)
        current = self.model[execution]
        if current.state is S.FAILED and current.retry_at is not None:
            step = machine.retry(current, at)
            aggregate.retry(at)
        else:
            step = machine.stall(current, at, self.policy(execution))
            aggregate.stall(at, self.policy(execution), revert=False)
        self.world.app.commit(aggregate, ORCHESTRATOR)
        self.model[execution] = step.execution

    @rule(which=st.integers(0, 1), roll=st.integers(0, 3))
    def pause_or_resume(self, which: int, roll: int) -> None:
        if roll:  # paused, nobody is notified: one try in four
            return
        deployment = self.deployments[which]
        if self.world.service.get("acme", deployment.id).status is DeploymentStatus.PAUSED:
            self.world.service.resume(ResumeDeployment(deployment_id=deployment.id), OPERATOR)
        else:
            self.world.service.pause(PauseDeployment(deployment_id=deployment.id), OPERATOR)

    @invariant()
    def streams_rebuild_the_machine_value(self) -> None:
        if not hasattr(self, "world"):
            return
        for execution, expected in self.model.items():
            stored = self.world.app.repository.get(execution)
            assert isinstance(stored, DeploymentExecution)
            assert stored.execution == expected

    @invariant()
    def one_active_execution_per_device(self) -> None:
        if not hasattr(self, "world"):
            return
        for device in DEVICES:
            active = [
                e
                for e in self.executions
                if self.device_of[e] == device and self.model[e].state in ACTIVE
            ]
            assert len(active) <= 1


DeploymentServiceMachine.TestCase.settings = settings(
    max_examples=examples(100), stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
test_deployment_service = DeploymentServiceMachine.TestCase
