"""A dynamic deployment stays open (docs/firmware.md 12.2, 12.4): its waves all done, it goes on
RUNNING and takes a device that joins later; a person finishes it, then it takes no new device,
its queued installs are CANCELED, none succeeded is reverted, and it completes once no install
is active. A snapshot deployment cannot be finished: it completes on its own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from uuid import UUID, uuid4

import pytest

from api.deployment_view import DeploymentPublic
from read_side.deployments.eta import bucket_of
from read_side.deployments.row import DecisionRow
from tests.unit.deployment_fixtures import OLD, OPERATOR
from tests.unit.ota_fixtures import OtaWorld
from tests.unit.test_firmware_view import NOW, a_deployment
from write_side.deployment_commands import FinishDeployment, parse_create_deployment
from write_side.deployment_errors import DeploymentFinished, InvalidTransition
from write_side.deployment_states import DeploymentStatus, ExecutionState

S, Status = ExecutionState, DeploymentStatus
DYNAMIC = {"tags": ["north"], "dynamic": True}


@pytest.fixture
def world() -> Iterator[OtaWorld]:
    built = OtaWorld.build({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield built
    built.app.close()


def joined(world: OtaWorld) -> UUID:
    device = world.register(tags=("north",))
    world.report_version(device, OLD)
    return device


def succeed_all(world: OtaWorld, deployment: UUID) -> None:
    for execution_id, execution in world.executions(deployment).items():
        if execution.execution.state is S.NOTIFIED:
            world.update(execution_id, "succeeded", version=world.target_version(deployment))
    world.pump()


def finish(world: OtaWorld, deployment: UUID) -> int:
    command = FinishDeployment(deployment_id=deployment)
    return world.service.finish(command, OPERATOR).position or 0


def test_a_dynamic_deployment_with_its_waves_done_stays_running_and_takes_a_later_device(
    world: OtaWorld,
) -> None:
    first = joined(world)
    deployment = world.create(target=DYNAMIC, waves=[{"count": 1}, {}])
    world.pump()
    succeed_all(world, deployment)
    assert world.states(deployment) == {first: S.SUCCEEDED}
    assert world.deployment(deployment).wave == 1  # the last wave runs, its threshold met
    assert world.deployment(deployment).status is Status.RUNNING

    world.clock.tick(3600)
    late = joined(world)
    world.pump()
    assert world.states(deployment)[late] is S.NOTIFIED
    assert world.deployment(deployment).status is Status.RUNNING


def test_a_dynamic_deployment_of_no_device_stays_open_for_the_first_one(world: OtaWorld) -> None:
    deployment = world.create(target=DYNAMIC)
    world.pump()
    assert world.deployment(deployment).status is Status.RUNNING
    device = joined(world)
    world.pump()
    assert world.states(deployment) == {device: S.NOTIFIED}


def test_a_finish_cancels_the_queued_completes_once_none_is_active_and_reverts_nothing(
    world: OtaWorld,
) -> None:
    for _ in range(3):
        joined(world)
    deployment = world.create(
        target=DYNAMIC, rate={"basePerMinute": 1}, revertSucceededOnAbort=True
    )
    world.pump()
    succeed_all(world, deployment)
    world.clock.tick(61)
    world.fire_due()
    assert sorted(world.states(deployment).values()) == [S.NOTIFIED, S.QUEUED, S.SUCCEEDED]

    assert finish(world, deployment) > 0
    assert finish(world, deployment) == 0  # finishing already: nothing recorded
    world.pump()
    assert sorted(world.states(deployment).values()) == [S.CANCELED, S.NOTIFIED, S.SUCCEEDED]
    assert world.deployment(deployment).status is Status.RUNNING  # one install still runs
    late = joined(world)
    world.pump()
    assert late not in world.states(deployment)

    succeed_all(world, deployment)
    d = world.deployment(deployment)
    assert d.status is Status.COMPLETED
    assert d.finishing
    assert world.states(deployment, "revert") == {}
    assert sorted(world.states(deployment).values()) == [S.CANCELED, S.SUCCEEDED, S.SUCCEEDED]
    with pytest.raises(DeploymentFinished):
        finish(world, deployment)


def test_a_finish_when_nothing_runs_completes_at_once(world: OtaWorld) -> None:
    joined(world)
    deployment = world.create(target=DYNAMIC)
    world.pump()
    succeed_all(world, deployment)
    finish(world, deployment)
    world.pump()
    assert world.deployment(deployment).status is Status.COMPLETED


def test_a_snapshot_or_not_started_deployment_cannot_be_finished(world: OtaWorld) -> None:
    joined(world)
    snapshot = world.create()
    world.pump()
    with pytest.raises(InvalidTransition):
        finish(world, snapshot)
    scheduled = world.create(target=DYNAMIC, startAt="2999-01-01T00:00:00Z")
    with pytest.raises(InvalidTransition):
        finish(world, scheduled)
    assert not world.deployment(snapshot).finishing


def test_an_open_dynamic_deployment_shows_no_eta_and_a_finished_one_shows_finishing() -> None:
    row = replace(
        a_deployment(),
        status=Status.RUNNING,
        target={"tags": ["north"], "dynamic": True},
        success_seconds={bucket_of(100): 10},
        plan=parse_create_deployment({"name": "n", "firmwareId": str(uuid4()), "target": DYNAMIC})
        .to_plan(42)
        .to_payload(),
    )
    shown = DeploymentPublic.from_row(row, now=NOW)
    assert (shown.finishing, shown.eta) == (False, None)
    decision = DecisionRow(kind="finished", by="user:op", at=NOW)
    finishing = replace(row, decisions=(*row.decisions, decision))
    shown = DeploymentPublic.from_row(finishing, now=NOW)
    assert shown.finishing
    assert shown.eta is not None
    assert DeploymentPublic.from_row(replace(row, target={"tags": ["north"]}), now=NOW).eta
