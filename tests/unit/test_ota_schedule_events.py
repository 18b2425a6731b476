"""The schedule writer's pure part (ota.schedule_events) on events recorded by the real
aggregates through the deployment service (an in-memory application): which due times become
timers, which events become job notices, and what neither does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from event_store.envelope import EventEnvelope
from event_store.log import EventLog
from ota.schedule import JobNotice, Timer
from ota.schedule_events import execution_facts, notices_of, timers_of
from tests.ota_clock import T0
from tests.unit.deployment_fixtures import OLD, ORCHESTRATOR, World
from write_side.deployment_commands import ReportUpdate
from write_side.deployment_service import QueueExecution
from write_side.deployments import DEPLOYMENT_CREATED

DEVICE = uuid.UUID(int=11)


@pytest.fixture
def world() -> Iterator[World]:
    built = World.build()
    yield built
    built.app.close()


def feed(world: World, after: int = 0) -> list[EventEnvelope]:
    return EventLog(world.app.recorder, world.app.envelope_mapper).read_feed(
        after=after, limit=1000
    )


def rows(world: World, after: int = 0) -> tuple[list[Timer], list[JobNotice]]:
    """What the writer would write for the feed after `after` (facts from each stream)."""
    log = EventLog(world.app.recorder, world.app.envelope_mapper)
    timers: list[Timer] = []
    notices: list[JobNotice] = []
    for envelope in feed(world, after):
        timers += timers_of(envelope)
        stream = log.read_stream(uuid.UUID(envelope.stream_id), up_to_version=envelope.version)
        notices += notices_of(envelope, execution_facts(stream))
    return timers, notices


def test_a_scheduled_start_is_a_start_timer_on_the_deployment_stream(world: World) -> None:
    start = T0 + timedelta(hours=3)
    deployment = world.create(startAt=start.isoformat())
    created = [e for e in feed(world) if e.type == DEPLOYMENT_CREATED.type]
    assert timers_of(created[0]) == [Timer(start, "acme", deployment.id, 1, "start")]


def test_a_deployment_without_a_start_time_sets_no_timer(world: World) -> None:
    world.running()
    assert rows(world) == ([], [])


def test_a_notification_is_an_install_notice_and_a_stall_timer(world: World) -> None:
    deployment = world.running()
    head = world.stored()
    execution = world.notified(deployment, DEVICE)
    timers, notices = rows(world, head)
    assert notices == [JobNotice("acme", DEVICE, execution, 1, "install", "mqtt")]
    # NOTIFIED's default stall timeout is 24 h, set by the Notified event (version 2)
    assert timers == [Timer(T0 + timedelta(hours=24), "acme", execution, 2, "stall")]


def test_a_revert_over_http_is_a_revert_notice_on_that_channel(world: World) -> None:
    deployment = world.running()
    spec = QueueExecution(deployment.id, DEVICE, 0, OLD, purpose="revert", target_version=OLD)
    execution = world.service.queue(spec, ORCHESTRATOR).aggregate.id
    head = world.stored()
    world.service.notify(execution, "http", ORCHESTRATOR)
    assert rows(world, head)[1] == [JobNotice("acme", DEVICE, execution, 1, "revert", "http")]


def test_a_queue_outside_the_window_is_a_not_before_timer(world: World) -> None:
    deployment = world.running()
    opens = T0 + timedelta(hours=14)
    spec = QueueExecution(deployment.id, DEVICE, 0, OLD, "outside_window", not_before=opens)
    execution = world.service.queue(spec, ORCHESTRATOR).aggregate.id
    assert rows(world)[0] == [Timer(opens, "acme", execution, 1, "not_before")]


def test_cancel_tells_the_device_only_when_it_had_been_told(world: World) -> None:
    deployment = world.running()
    told = world.notified(deployment, DEVICE)
    never_told = world.queued(deployment, uuid.UUID(int=12))
    head = world.stored()
    world.service.cancel_execution(told, "deployment_canceled", ORCHESTRATOR)
    world.service.cancel_execution(never_told, "deployment_canceled", ORCHESTRATOR)
    assert rows(world, head) == ([], [JobNotice("acme", DEVICE, told, 1, "cancel", "mqtt")])


def test_a_failure_with_a_retry_left_is_a_retry_timer_and_progress_moves_the_stall(
    world: World,
) -> None:
    deployment = world.running()
    execution = world.notified(deployment, DEVICE)
    head = world.stored()
    for seq, status in ((1, "downloading"), (2, "failed")):
        body = {"device_id": DEVICE, "execution_id": execution, "seq": seq, "status": status}
        command = ReportUpdate.model_validate(body | {"at": world.clock.tick()})
        world.service.report_update(command, ORCHESTRATOR)
    timers, notices = rows(world, head)
    assert notices == []
    assert [(t.kind, t.stream_version) for t in timers] == [("stall", 3), ("retry", 4)]
    assert timers[0].due_at == T0 + timedelta(seconds=60, minutes=30)  # DOWNLOADING: 30 min
    assert T0 + timedelta(seconds=150) <= timers[1].due_at <= T0 + timedelta(seconds=180)


def test_a_soak_is_a_soak_timer(world: World) -> None:
    deployment = world.running(waves=[{"percent": 50, "soakSeconds": 600}, {}])
    until = T0 + timedelta(minutes=10)
    deployment.start_soak(0, until)
    world.app.commit(deployment, ORCHESTRATOR)
    version = deployment.version
    assert rows(world)[0] == [Timer(until, "acme", deployment.id, version, "soak")]


def test_a_notice_without_its_execution_facts_is_not_made(world: World) -> None:
    deployment = world.running()
    head = world.stored()
    world.notified(deployment, DEVICE)
    notified = [e for e in feed(world, head) if e.payload.get("channel")]
    assert notices_of(notified[0], None) == []
