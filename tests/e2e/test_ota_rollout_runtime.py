"""The OTA slice in the running system (docs/firmware.md 12.4): `build_system` + `start` run the
orchestrator, the schedule writer, the timer loop and the job dispatcher; `close` stops them.
Embedded default (SQLite, no broker): devices are told on `http` and poll. With a publisher
(`FLEETWATCH_OTA_MQTT_URL`, the real Mosquitto) a notified execution's document reaches the
device's `devices/{id}/jobs/notify`."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from local_services import MOSQUITTO, endpoint

from fleetwatch.bootstrap import System, build_system
from fleetwatch.consumers import PolledJobs
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from tests.integration.device_jobs_fixtures import ADMIN, device, release
from tests.integration.test_ota_jobs import Subscriber
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_states import execution_id

LOOPS = {"ota-timers", "ota-jobs"}


def threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def eventually(check: Callable[[], bool], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def deploy_to_one_device(system: System) -> tuple[uuid.UUID, uuid.UUID]:
    """A device and a running deployment to it; (device id, execution id) once notified."""
    device_id, _token = device(system)
    firmware_id = release(system, b"image" * 100)
    target = {"deviceIds": [str(device_id)]}
    body = {"name": "one", "firmwareId": str(firmware_id), "target": target}
    deployment = system.deployment_service.create(parse_create_deployment(body), ADMIN)
    execution = execution_id("acme", deployment.aggregate.id, device_id, "install")
    eventually(lambda: "DeploymentExecution.Notified" in types_of(system, execution))
    return device_id, execution


def types_of(system: System, stream: uuid.UUID) -> list[str]:
    return [e.type for e in system.event_log.read_stream(stream)]


def settings_on(tmp_path: Path, **more: object) -> Settings:
    return Settings(
        store="sqlite",
        sqlite_path=tmp_path / "fleet.sqlite3",
        blob_dir=tmp_path / "blobs",
        ota_poll_interval=0.1,
        **more,  # type: ignore[arg-type]
    )


def test_the_embedded_default_runs_the_ota_slice_and_stops_it(tmp_path: Path) -> None:
    system = build_system(settings_on(tmp_path), IngestSettings(ingest_flush_ms=5))
    assert isinstance(system.ota_publisher, PolledJobs)  # nothing else installed
    system.start()
    try:
        assert threads() >= LOOPS
        _device, execution = deploy_to_one_device(system)
        stream = system.event_log.read_stream(execution)
        [notified] = [e for e in stream if e.type == "DeploymentExecution.Notified"]
        assert notified.payload["channel"] == "http"  # no publisher: the device polls
        assert system.ota_schedule is not None
        eventually(lambda: system.ota_schedule.pending(10) == [])  # type: ignore[union-attr]
    finally:
        system.close()
    assert not LOOPS & threads()


def test_a_notified_execution_reaches_the_device_topic_through_mosquitto(
    tmp_path: Path, mqtt_url: str
) -> None:
    client_id = f"jobs-{uuid.uuid4().hex[:8]}"
    settings = settings_on(tmp_path, ota_mqtt_url=mqtt_url, ota_mqtt_client_id=client_id)
    system = build_system(settings, IngestSettings(ingest_flush_ms=5))
    subscriber = Subscriber(endpoint(mqtt_url, MOSQUITTO.default_port), "devices")
    system.start()
    try:
        device_id, execution = deploy_to_one_device(system)

        def received() -> bool:
            return any(t == f"devices/{device_id}/jobs/notify" for t, _ in subscriber.messages)

        eventually(received)
        [document] = [d for t, d in subscriber.messages if str(device_id) in t]
        assert document["executionId"] == str(execution)
        assert (document["attempt"], document["operation"]) == (1, "install")
        assert document["firmware"]["version"] == "2.0.0"
    finally:
        system.close()
        subscriber.close()
    assert not LOOPS & threads()
