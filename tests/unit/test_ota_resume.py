"""A failure threshold's pause that a person resumed (docs/firmware.md 12.2): the failures it
showed are accepted, so the wave goes on to its success threshold and is promoted; a new final
failure pauses it again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.deployment_fixtures import OLD, OPERATOR
from tests.unit.ota_fixtures import OtaWorld
from write_side.deployment_commands import ResumeDeployment
from write_side.deployment_states import DeploymentStatus, ExecutionState

S, Status = ExecutionState, DeploymentStatus


@pytest.fixture
def world() -> Iterator[OtaWorld]:
    built = OtaWorld.build({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield built
    built.app.close()


def test_a_resumed_failure_threshold_accepts_its_failures_and_pauses_on_new_ones(
    world: OtaWorld,
) -> None:
    for _ in range(6):
        world.report_version(world.register(tags=("north",)), OLD)
    waves = [{"count": 4, "failureCount": 1, "successPercent": 50}, {}]
    deployment = world.create(waves=waves)
    world.pump()
    first, second, third, fourth = [
        e for e, x in world.executions(deployment).items() if x.execution.state is S.NOTIFIED
    ]
    version = world.target_version(deployment)

    def resume() -> None:
        world.service.resume(ResumeDeployment(deployment_id=deployment), OPERATOR)
        world.pump()

    world.update(first, "rejected")
    world.pump()
    assert world.deployment(deployment).status is Status.PAUSED
    resume()
    world.update(second, "succeeded", version=version)
    world.pump()
    assert world.deployment(deployment).status is Status.RUNNING  # 1 failure accepted
    assert world.deployment(deployment).wave == 0  # 1 of the 2 needed
    world.update(third, "rejected")
    world.pump()
    assert world.deployment(deployment).status is Status.PAUSED  # a new failure
    resume()
    world.update(fourth, "succeeded", version=version)
    world.pump()
    assert world.deployment(deployment).status is Status.RUNNING
    assert world.deployment(deployment).wave == 1  # promoted on its success threshold
