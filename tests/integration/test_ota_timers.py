"""The orchestrator over the real schedule store, on each store (SQLite, DynamoDB Local): its
own `wake` rows (the rate limit's next slot) and the stall rows the schedule writer derives from
`Notified` come due in the store, and the timer loop fires them into `OtaProcess.fire`
(docs/firmware.md 12.4)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from fleetwatch.bootstrap import build_system
from fleetwatch.consumers import build_ota_schedule
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from ota.schedule_loops import TimerLoop
from tests.unit.deployment_fixtures import OLD, OPERATOR
from tests.unit.ota_fixtures import OtaWorld
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_states import DeploymentStatus, ExecutionState
from write_side.firmware_commands import PublishFirmware

S = ExecutionState


def test_wake_and_stall_rows_fire_through_the_timer_loop(app: FleetApplication) -> None:
    world = OtaWorld.on(app)
    writer, store = build_ota_schedule(app)
    world.worker = world.new_worker(timers=store)
    loop = TimerLoop(store, world.process.fire, clock=world.clock)
    for _ in range(3):
        world.report_version(world.register(), OLD)
    deployment = world.create(rate={"basePerMinute": 1}, retry={"maxRetries": {"stalled": 0}})
    world.pump()
    assert Counter(world.states(deployment).values()) == {S.NOTIFIED: 1, S.QUEUED: 2}

    world.clock.tick(61)  # the rate limit's next slot: the orchestrator's own wake row
    assert loop.run_once() >= 1
    world.pump()
    assert Counter(world.states(deployment).values()) == {S.NOTIFIED: 2, S.QUEUED: 1}

    writer.catch_up()  # the schedule writer: stall rows from the `Notified` events
    world.clock.tick(25 * 3600)  # past the NOTIFIED stall timeout, no retry for a stall
    loop.drain()
    world.pump()
    writer.catch_up()
    loop.drain()
    world.pump()
    states = Counter(world.states(deployment).values())
    assert states[S.TIMED_OUT] == 2
    assert world.deployment(deployment).status is DeploymentStatus.PAUSED  # 95 % unreachable


def test_the_system_fires_a_scheduled_start_into_its_orchestrator(
    store_settings: Settings,
) -> None:
    """The timer loop reads its store every 30 s here: the start fires on time only because
    the schedule writer of this process announces the row it stores (docs/firmware.md 12.4)."""
    settings = store_settings.model_copy(update={"ota_timer_max_idle": 30.0})
    system = build_system(settings, IngestSettings(ingest_flush_ms=5))
    system.start()
    try:
        assert system.ota_timers is not None
        system.device_service.register(
            RegisterDevice(name="p", device_type="pump", tags=["north"]), OPERATOR
        )
        release = PublishFirmware(
            version="3.0.0", device_types=["pump"], filename="fw.bin", size_bytes=1,
            sha256="ab" * 32,
        )  # fmt: skip
        firmware = system.firmware_service.publish(release, OPERATOR).aggregate.id
        start_at = datetime.now(UTC) + timedelta(seconds=2)
        command = parse_create_deployment({
            "name": "pumps", "firmwareId": str(firmware), "target": {"tags": ["north"]},
            "startAt": start_at.isoformat(),
        })  # fmt: skip
        deployment = system.deployment_service.create(command, OPERATOR).aggregate.id
        deadline = time.monotonic() + 15
        status = DeploymentStatus.SCHEDULED
        while time.monotonic() < deadline and status is DeploymentStatus.SCHEDULED:
            time.sleep(0.2)
            status = system.deployment_service.get("acme", deployment).status
        assert status is DeploymentStatus.RUNNING
        assert timedelta(0) <= datetime.now(UTC) - start_at < timedelta(seconds=5)
    finally:
        system.close()
