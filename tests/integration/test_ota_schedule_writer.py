"""The schedule writer through the composition root's builder, on SQLite and on DynamoDB Local:
deployment events recorded by the real service become timer rows and job notices with the
writer's checkpoint; a restarted writer resumes from it and a replay from the start adds
nothing (rows are idempotent by key)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fleetwatch.consumers import build_ota_schedule
from ota.schedule import JobNotice
from tests.ota_clock import T0, Clock
from tests.unit.deployment_fixtures import OLD, OPERATOR, ORCHESTRATOR, Releases
from write_side.application import FleetApplication
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_service import DeploymentService, QueueExecution

DEVICES = [uuid.UUID(int=i) for i in (11, 12, 13)]


def test_events_become_rows_with_the_checkpoint_and_a_replay_adds_nothing(
    app: FleetApplication,
) -> None:
    releases, clock = Releases(), Clock()
    service = DeploymentService(app, releases, clock, lambda: 7)
    command = parse_create_deployment(
        {"name": "pumps", "firmwareId": str(releases.add()), "target": {"tags": ["north"]}}
    )
    deployment = service.create(command, OPERATOR).aggregate
    deployment.start(clock(), 3)
    deployment.start_wave(0, 3, clock())
    app.commit(deployment, ORCHESTRATOR)
    executions = [
        service.queue(QueueExecution(deployment.id, d, 0, OLD), ORCHESTRATOR).aggregate.id
        for d in DEVICES
    ]
    service.notify(executions[0], "mqtt", ORCHESTRATOR)
    service.notify(executions[1], "http", ORCHESTRATOR)
    service.cancel_execution(executions[0], "deployment_canceled", ORCHESTRATOR)

    worker, store = build_ota_schedule(app)
    assert worker.catch_up() > 0
    head = app.recorder.max_notification_id()
    assert worker.checkpoint() == head
    expected = [
        JobNotice("acme", DEVICES[0], executions[0], 1, "install", "mqtt"),
        JobNotice("acme", DEVICES[1], executions[1], 1, "install", "http"),
        JobNotice("acme", DEVICES[0], executions[0], 1, "cancel", "mqtt"),
    ]
    assert sorted(store.pending(10), key=str) == sorted(expected, key=str)
    stalls = store.due(T0 + timedelta(days=2), 10)
    assert {(t.stream_id, t.kind) for t in stalls} == {
        (executions[0], "stall"),
        (executions[1], "stall"),
    }
    store.mark_sent(expected[:1])

    restarted, _ = build_ota_schedule(app)  # resumes from the checkpoint: reads nothing
    assert restarted.catch_up() == 0
    restarted.rewind()  # a replay from the start: every row is there already, a sent one stays sent
    restarted.catch_up()
    assert sorted(store.pending(10), key=str) == sorted(expected[1:], key=str)
    assert store.due(T0 + timedelta(days=2), 10) == stalls
