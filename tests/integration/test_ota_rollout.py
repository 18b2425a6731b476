"""The OTA orchestrator on each store (SQLite, DynamoDB Local): a rollout of 30 devices in 3
waves completes, and an orchestrator started on the same store mid-rollout (the first one
dropped) continues it without notifying any device twice (docs/firmware.md 12.4)."""

from __future__ import annotations

import time
from collections import Counter
from uuid import UUID

from tests.unit.deployment_fixtures import OLD
from tests.unit.ota_fixtures import OtaWorld
from write_side.application import FleetApplication
from write_side.deployment_states import DeploymentStatus, ExecutionState

S = ExecutionState


def succeed_notified(world: OtaWorld, deployment: UUID) -> int:
    """Every notified device reports the target version in its update; how many did."""
    done = 0
    for execution_id, execution in world.executions(deployment).items():
        if execution.execution.state is S.NOTIFIED:
            world.update(execution_id, "succeeded", version=execution.execution.target_version)
            done += 1
    return done


def test_a_rollout_in_three_waves_completes_across_a_restart(app: FleetApplication) -> None:
    started = time.perf_counter()
    world = OtaWorld.on(app)
    for _ in range(30):
        world.report_version(world.register(), OLD)
    deployment = world.create(waves=[{"count": 5}, {"count": 10}, {}])
    world.pump()
    assert world.deployment(deployment).wave == 0
    assert Counter(world.states(deployment).values()) == {S.NOTIFIED: 5, S.QUEUED: 25}

    assert succeed_notified(world, deployment) == 5
    world.pump()
    assert world.deployment(deployment).wave == 1
    world.worker = world.new_worker()  # the first orchestrator is dropped mid-rollout
    world.pump()
    assert Counter(world.states(deployment).values()) == {
        S.SUCCEEDED: 5, S.NOTIFIED: 10, S.QUEUED: 15,
    }  # fmt: skip

    for _ in range(3):
        succeed_notified(world, deployment)
        world.pump()
    assert world.deployment(deployment).status is DeploymentStatus.COMPLETED
    assert Counter(world.states(deployment).values()) == {S.SUCCEEDED: 30}
    notified = world.notified_events()
    assert len(notified) == 30  # each device told once, at attempt 1
    assert {attempt for _, attempt in notified} == {1}
    assert time.perf_counter() - started < 60
