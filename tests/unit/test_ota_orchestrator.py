"""The OTA orchestrator under any sequence of what happens to a fleet (docs/firmware.md 12.4),
on the embedded SQLite store: devices register and report versions, deployments are created,
paused, resumed and canceled, devices' updates succeed, fail or stall, the clock advances and
timers fire, the orchestrator restarts. After every step, from what the store holds:

- never two active executions on one device;
- a started snapshot deployment has one install per target, each in exactly one state;
- a deployment paused, canceled, aborted or completed notifies no install;
- every promotion was a PROMOTE verdict of its wave's tally (failure thresholds first), an
  ABORT-policy threshold aborts, and a revert exists for every succeeded device of a
  deployment aborted or canceled with `revertSucceededOnAbort` (none otherwise);
- under `onExecutionFailure: REVERT`, an install that failed or timed out while installing,
  or said done on a third version, records the revert and a running deployment queues it;
- SUCCEEDED only with the reported target version;
- a fresh orchestrator replaying the whole feed, and one restarted from the checkpoint,
  decide nothing new.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from hypothesis import event as hypothesis_event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from event_store.log import EventLog
from tests.unit.deployment_fixtures import OLD, OPERATOR
from tests.unit.ota_fixtures import OtaWorld
from write_side.deployment_commands import (
    ApproveWave,
    CancelDeployment,
    FinishDeployment,
    PauseDeployment,
    ResumeDeployment,
)
from write_side.deployment_plan import OnExecutionFailure
from write_side.deployment_states import ACTIVE, DeploymentStatus, ExecutionState
from write_side.deployment_waves import Verdict, WaveTally, judge_wave
from write_side.errors import DomainError

S, Status = ExecutionState, DeploymentStatus
LEAVE = OnExecutionFailure.LEAVE
_ENDS_WITH_REVERT = ("Failed", "TimedOut", "RolledBack")
QUIET = (Status.PAUSED, Status.CANCELED, Status.ABORTED, Status.COMPLETED)
PLANS: list[dict[str, Any]] = [
    {"waves": [{"count": 2, "failureCount": 1}, {}]},
    {
        "waves": [{"count": 1, "failureCount": 1, "onFailure": "ABORT"}, {}],
        "revertSucceededOnAbort": True,
    },
    {
        "waves": [{"percent": 50, "successPercent": 50}, {"failurePercent": 50}],
        "rate": {"basePerMinute": 1},
    },
    {
        "waves": [{}],
        "retry": {"maxRetries": {"download": 1, "stalled": 1}},
        "target": {"tags": ["north"], "dynamic": True},
    },
    {"waves": [{"count": 1}, {"approval": True}]},
    {
        "waves": [{"successPercent": 10, "failurePercent": 100}],
        "onExecutionFailure": "REVERT",
        "retry": {"maxRetries": {"install": 0, "stalled": 0}},
    },
]


def sqlite_env(directory: str) -> dict[str, str]:
    path = Path(directory) / "events.db"
    return {
        "PERSISTENCE_MODULE": "event_store.sqlite",
        "SQLITE_DBNAME": str(path),
        "CREATE_TABLE": "y",
    }


_T = TypeVar("_T")


class Fleet(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.world = OtaWorld.build(sqlite_env(self.dir.name))
        self.devices: list[UUID] = []
        self.deployments: list[UUID] = []
        self.plans: dict[UUID, dict[str, Any]] = {}
        self._memo_head: int | None = None
        self._memo: dict[Any, Any] = {}
        for _ in range(4):
            self.devices.append(self.world.register())
            self.world.report_version(self.devices[-1], OLD)

    def teardown(self) -> None:
        feed = self.world.app.recorder.select_notifications(start=0, limit=1_000_000)
        for kind in sorted({n.topic.rsplit(":", 1)[-1] for n in feed}):
            hypothesis_event(kind)  # what the examples reached (`--hypothesis-show-statistics`)
        self.world.app.close()
        self.dir.cleanup()

    # What happens ----------------------------------------------------------------------------

    @rule(tagged=st.booleans(), current=st.booleans())
    def register(self, tagged: bool, current: bool) -> None:
        device = self.world.register(tags=("north",) if tagged else ("south",))
        self.devices.append(device)
        version = (
            self.world.target_version(self.deployments[-1]) if current and self.deployments else OLD
        )
        self.world.report_version(device, version)
        self._step()

    @rule(index=st.integers(0, 50), version=st.sampled_from(["old", "target", "other"]))
    def report_version(self, index: int, version: str) -> None:
        device = self.devices[index % len(self.devices)]
        text = {"old": OLD, "other": "1.5.0"}.get(version)
        if text is None:
            text = self.world.target_version(self.deployments[-1]) if self.deployments else OLD
        self.world.report_version(device, text)
        self._step()

    @initialize(plan=st.sampled_from(range(len(PLANS))))
    def first_deployment(self, plan: int) -> None:
        self.create(plan)

    @precondition(lambda self: len(self.deployments) < 3)
    @rule(plan=st.sampled_from(range(len(PLANS))))
    def create(self, plan: int) -> None:
        fields = dict(PLANS[plan])
        deployment = self.world.create(**fields)
        self.deployments.append(deployment)
        self.plans[deployment] = fields
        self._step()

    @precondition(lambda self: self.deployments)
    @rule(
        index=st.integers(0, 5),
        command=st.sampled_from(
            ["pause", "resume", "resume", "approve", "approve", "cancel", "finish"]
        ),
    )
    def operate(self, index: int, command: str) -> None:
        deployment = self.deployments[index % len(self.deployments)]
        service = self.world.service
        with contextlib.suppress(DomainError):
            if command == "pause":
                service.pause(PauseDeployment(deployment_id=deployment), OPERATOR)
            elif command == "resume":
                service.resume(ResumeDeployment(deployment_id=deployment), OPERATOR)
            elif command == "cancel":
                service.cancel(CancelDeployment(deployment_id=deployment), OPERATOR)
            elif command == "finish":
                service.finish(FinishDeployment(deployment_id=deployment), OPERATOR)
            else:
                wave = self.world.deployment(deployment).next_wave
                service.approve(ApproveWave(deployment_id=deployment, wave=wave), OPERATOR)
        self._step()

    @precondition(lambda self: self._dynamic())
    @rule(index=st.integers(0, 5))
    def finish(self, index: int) -> None:
        """A person finishes one of the dynamic deployments (a finished one: refused)."""
        dynamic = self._dynamic()
        command = FinishDeployment(deployment_id=dynamic[index % len(dynamic)])
        with contextlib.suppress(DomainError):
            self.world.service.finish(command, OPERATOR)
        self._step()

    @precondition(lambda self: self.deployments)
    @rule(
        index=st.integers(0, 50),
        status=st.sampled_from(
            ["downloading", "installing", "succeeded", "done", "failed", "rejected"]
        ),
    )
    def device_update(self, index: int, status: str) -> None:
        active = [
            (e.id, e.deployment_id) for e in self._executions() if e.execution.state in ACTIVE
        ]
        if not active:
            return
        execution, _ = active[index % len(active)]
        fields: dict[str, Any] = {}
        if status == "succeeded":
            fields["version"] = self.world.execution(execution).execution.target_version
        status = "succeeded" if status == "done" else status
        with contextlib.suppress(DomainError):
            self.world.update(execution, status, **fields)
        self._step()

    @precondition(lambda self: self.deployments)
    @rule(succeed=st.booleans())
    def every_active_device_answers(self, succeed: bool) -> None:
        """All succeed, or all refuse (those not yet installing)."""
        for execution in self._executions():
            if execution.execution.state in ACTIVE:
                version = execution.execution.target_version
                with contextlib.suppress(DomainError):
                    if succeed:
                        self.world.update(execution.id, "succeeded", version=version)
                    else:
                        self.world.update(execution.id, "rejected")
        self._step()

    @rule(seconds=st.sampled_from([30, 61, 1800, 4000, 90_000]))
    def advance(self, seconds: int) -> None:
        with self._quiet_ones_notify_nobody():
            self.world.clock.tick(seconds)
            self.world.fire_due()

    @rule()
    def restart(self) -> None:
        """The orchestrator dropped and started again on the same store: nothing new."""
        head = self._head()
        self.world.worker = self.world.new_worker()
        self.world.worker.catch_up()
        assert self._head() == head

    # What must hold ----------------------------------------------------------------------------

    @invariant()
    def one_active_execution_per_device(self) -> None:
        active = Counter(e.device_id for e in self._executions() if e.execution.state in ACTIVE)
        assert all(n == 1 for n in active.values()), active

    @invariant()
    def promotions_follow_the_thresholds_and_reverts_the_policy(self) -> None:
        for deployment in self.deployments:
            d = self._deployment(deployment)
            for event in self._events(deployment, "Deployment.WavePromoted"):
                tally = WaveTally(event["members"], event["succeeded"], event["failed"])
                assert judge_wave(tally, d.plan.waves[event["wave"]]).verdict is Verdict.PROMOTE
            installs = [e for e in self._executions() if e.deployment_id == deployment]
            reverts = {e.device_id for e in installs if e.purpose == "revert"}
            succeeded = {
                e.device_id
                for e in installs
                if e.purpose == "install" and e.execution.state is S.SUCCEEDED
            }
            if (
                d.status in (Status.ABORTED, Status.CANCELED)
                and d.plan.rollback.revert_succeeded_on_abort
            ):
                assert succeeded <= reverts
            rollback = d.plan.rollback
            if rollback.on_execution_failure is LEAVE and not rollback.revert_succeeded_on_abort:
                assert not reverts

    @invariant()
    def a_failed_stalled_or_third_version_install_is_reverted_under_revert(self) -> None:
        """An install's end records the plan's REVERT exactly when it failed or stalled while
        installing, or the device said done on a third version (not when it rolled itself
        back); a running deployment has a revert for every install whose end says so."""
        executions = self._executions()
        reverting = {(e.deployment_id, e.device_id) for e in executions if e.purpose == "revert"}
        for e in executions:
            if e.purpose != "install":
                continue
            d = self._deployment(e.deployment_id)
            policy = d.plan.rollback.on_execution_failure is not LEAVE
            ends = [x for x in self._stream(e.id) if x.type.rsplit(".", 1)[-1] in _ENDS_WITH_REVERT]
            for end in ends:
                kind, p = end.type.rsplit(".", 1)[-1], end.payload
                reverts = (
                    p["reported_version"] != e.execution.from_version
                    if kind == "RolledBack"
                    else p["from_state" if kind == "Failed" else "stalled_in"] == "INSTALLING"
                )
                assert p["revert"] is (policy and reverts), (kind, p)
            last = self._stream(e.id)[-1]
            if d.status is Status.RUNNING and last.payload.get("revert"):
                assert (e.deployment_id, e.device_id) in reverting

    @invariant()
    def counts_add_up_to_the_targets(self) -> None:
        for deployment in self.deployments:
            started = self._events(deployment, "Deployment.Started")
            installs = [
                e
                for e in self._executions()
                if e.deployment_id == deployment and e.purpose == "install"
            ]
            if started and not self._deployment(deployment).target.dynamic:
                assert len(installs) == started[0]["targets"]
            assert sum(Counter(e.execution.state for e in installs).values()) == len(installs)

    @invariant()
    def a_dynamic_deployment_completes_only_after_a_finish(self) -> None:
        """It stays open for devices that join until a person finishes it; finishing, it has no
        queued install (those CANCELED, nobody joins) and completes once no install is active;
        a snapshot one is never finishing."""
        for deployment in self.deployments:
            d = self._deployment(deployment)
            finished = self._events(deployment, "Deployment.Finished")
            assert d.target.dynamic or not finished
            if d.target.dynamic and d.status is Status.COMPLETED:
                assert finished
            if d.finishing and d.status is not Status.COMPLETED:
                installs = [
                    e.execution
                    for e in self._executions()
                    if e.deployment_id == deployment and e.purpose == "install"
                ]
                assert all(e.state is not S.QUEUED for e in installs)
                if d.status not in QUIET:
                    assert any(e.state in ACTIVE or e.retry_at for e in installs)

    @invariant()
    def succeeded_only_with_the_target_version(self) -> None:
        for execution in self._executions():
            for event in self._events(execution.id, "DeploymentExecution.Succeeded"):
                assert event["reported_version"] == execution.execution.target_version

    @invariant()
    def a_full_replay_decides_nothing_new(self) -> None:
        head = self._head()
        replay = OtaWorld(**{**self.world.__dict__})
        replay.worker = replay.new_worker(upstream="replay")
        replay.worker.catch_up()
        assert self._head() == head

    # Helpers -----------------------------------------------------------------------------------

    def _step(self) -> None:
        with self._quiet_ones_notify_nobody():
            self.world.pump()

    @contextlib.contextmanager
    def _quiet_ones_notify_nobody(self) -> Iterator[None]:
        """A deployment paused, canceled, aborted, completed or finishing when the orchestrator
        is let run notifies no install while it runs."""
        quiet = {
            d
            for d in self.deployments
            if self._deployment(d).status in QUIET or self._deployment(d).finishing
        }
        before = self._notified()
        yield
        after = self._notified()
        for deployment in quiet:
            assert after[deployment] == before[deployment], deployment

    def _dynamic(self) -> list[UUID]:
        return [d for d in self.deployments if self.plans[d].get("target", {}).get("dynamic")]

    def _head(self) -> int:
        return self.world.app.recorder.max_notification_id() or 0

    def _executions(self) -> list[Any]:
        """Every execution the store holds (found by their `Queued` events in the feed)."""
        return self._as_of_head("executions", self._read_executions)

    def _read_executions(self) -> list[Any]:
        feed = self.world.app.recorder.select_notifications(start=0, limit=1_000_000)
        ids = [UUID(str(n.originator_id)) for n in feed if n.topic.endswith(".Queued")]
        return [self.world.execution(e) for e in ids]

    def _deployment(self, deployment: UUID) -> Any:
        """The deployment as the store holds it (read once per head, never changed here)."""
        return self._as_of_head(
            ("deployment", deployment), lambda: self.world.deployment(deployment)
        )

    def _as_of_head(self, key: Any, read: Callable[[], _T]) -> _T:
        """What `read` returns, read again only once the feed has moved: the store changes
        only by appending, so a read at the same head reads the same (the checks after each
        step ask for every execution and stream many times; loading them each time made this
        test take a minute)."""
        head = self._head()
        if self._memo_head != head:
            self._memo_head, self._memo = head, {}
        if key not in self._memo:
            self._memo[key] = read()
        found: _T = self._memo[key]
        return found

    def _notified(self) -> Counter[UUID]:
        counts: Counter[UUID] = Counter()
        for execution in self._executions():
            if execution.purpose == "install":
                counts[execution.deployment_id] += len(
                    self._events(execution.id, "DeploymentExecution.Notified")
                )
        return counts

    def _events(self, stream: UUID, kind: str) -> list[dict[str, Any]]:
        return [e.payload for e in self._stream(stream) if e.type == kind]

    def _stream(self, stream: UUID) -> list[Any]:
        log = EventLog(self.world.app.recorder, self.world.app.envelope_mapper)
        return self._as_of_head(stream, lambda: list(log.read_stream(stream)))


Fleet.TestCase.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
TestFleet = Fleet.TestCase
