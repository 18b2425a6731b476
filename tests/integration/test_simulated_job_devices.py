"""The simulated job-taking device (`fleetwatch/simulate_jobs.py`, docs/firmware.md 12.5) against
the real system: a release published with `FirmwareService`, a deployment created with
`DeploymentService`, the orchestrator (`ota` worker of `build_system`) and the schedule writer
driven by their `catch_up`; the device polls over HTTP (the API's app through httpx) on both
stores, or learns of its job over MQTT from the job dispatcher and reports over MQTT (the real
Mosquitto). Fault probabilities of 1.0 end the execution FAILED, REJECTED, ROLLED_BACK."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from fleetwatch.simulate_jobs import Faults, JobDevice, JobsMqtt, Outcome
from ingestion.jobs_mqtt import JobUpdatesSubscriber
from ingestion.mqtt_session import end_session
from ota.mqtt_jobs import MqttDeviceJobs
from ota.schedule_loops import JobDispatcher
from tests.integration.device_jobs_fixtures import ADMIN, OLD, TARGET, device, release, system
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_states import ExecutionState, execution_id

__all__ = ["system"]
S = ExecutionState


@pytest.fixture
def client(system: System) -> Iterator[TestClient]:
    assert system.ingest is not None
    system.ingest.start()  # the flusher of `POST /ingest` (the device's telemetry); closed with it
    with TestClient(create_app(system)) as built:
        yield built


def pump(system: System) -> None:
    """The schedule writer and the orchestrator follow the feed until nothing more happens."""
    for _ in range(20):
        head = system.app.recorder.max_notification_id() or 0
        for name in ("ota_schedule", "ota"):
            system.workers[name].catch_up()
        if (system.app.recorder.max_notification_id() or 0) == head:
            return
    raise AssertionError("the orchestrator does not settle")


@dataclass(frozen=True)
class Rollout:
    device_id: uuid.UUID
    token: str
    execution_id: uuid.UUID


def rollout(system: System, image: bytes) -> Rollout:
    """A pump device, a release of `image`, a deployment to it started by the orchestrator."""
    device_id, token = device(system)
    firmware_id = release(system, image)
    body = {"name": "p", "firmwareId": str(firmware_id), "target": {"deviceIds": [str(device_id)]}}
    deployment = system.deployment_service.create(parse_create_deployment(body), ADMIN)
    pump(system)
    return Rollout(
        device_id, token, execution_id("acme", deployment.aggregate.id, device_id, "install")
    )


def state(system: System, taken: Rollout) -> S:
    return system.deployment_service.get_execution("acme", taken.execution_id).execution.state


def test_a_polling_device_takes_its_job_in_ranges(system: System, client: TestClient) -> None:
    started = time.perf_counter()
    image = os.urandom(300_000)
    taken = rollout(system, image)
    assert state(system, taken) is S.NOTIFIED
    sim = JobDevice(taken.device_id, taken.token, OLD, client, range_bytes=100_000)
    assert sim.step() is Outcome.SUCCEEDED
    assert (sim.ranges, sim.version, sim.seq) == (3, TARGET, 4)
    assert state(system, taken) is S.SUCCEEDED
    assert sim.step() is None  # 204: nothing pending
    pump(system)
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize(
    ("faults", "outcome", "end"),
    [
        (Faults(fail=1.0), Outcome.FAILED, S.FAILED),
        (Faults(reject=1.0), Outcome.REJECTED, S.REJECTED),
        (Faults(rollback=1.0), Outcome.ROLLED_BACK, S.ROLLED_BACK),
        (Faults(stall=1.0), Outcome.STALLED, None),
    ],
)
def test_faults_of_probability_one(
    system: System, client: TestClient, faults: Faults, outcome: Outcome, end: S | None
) -> None:
    taken = rollout(system, b"x" * 1000)
    sim = JobDevice(taken.device_id, taken.token, OLD, client, faults=faults, seed=3)
    assert sim.step() is outcome
    pump(system)  # the rollback's telemetry reaches the orchestrator
    if end is not None:
        assert state(system, taken) is end
    else:  # stalled: left where it stopped, until its stall timeout
        assert state(system, taken) in {S.DOWNLOADING, S.DOWNLOADED, S.INSTALLING}
    assert sim.step() is None  # the same job is not taken twice


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_a_device_notified_over_mqtt_reports_over_mqtt(
    store_settings: Settings, tmp_path: Path, mqtt_url: str
) -> None:
    """With an OTA MQTT URL the orchestrator tells devices on `mqtt` (without one, `http`)."""
    settings = store_settings.model_copy(
        update={"blob_dir": tmp_path / "blobs", "ota_mqtt_url": mqtt_url}
    )
    with closing(build_system(settings)) as system:
        _notified_over_mqtt(system, TestClient(create_app(system)), mqtt_url)


def _notified_over_mqtt(system: System, client: TestClient, mqtt_url: str) -> None:
    root = f"test-{uuid.uuid4().hex[:8]}/devices"  # our own topics
    assert system.device_jobs is not None
    assert system.ota_schedule is not None
    updates = JobUpdatesSubscriber(
        system.device_jobs, mqtt_url, client_id=f"jobs-{root[5:13]}", topic_root=root,
        shared_group=None,
    )  # fmt: skip
    updates.start()
    link = JobsMqtt(mqtt_url, topic_root=root)
    publisher = MqttDeviceJobs(mqtt_url, client_id=f"notify-{root[5:13]}", topic_root=root)
    try:
        taken = rollout(system, os.urandom(50_000))
        sim = JobDevice(taken.device_id, taken.token, OLD, client, mqtt_link=link)
        dispatcher = JobDispatcher(
            system.ota_schedule, publisher, system.job_documents.render_notice
        )
        assert dispatcher.run_once().published == 1
        assert sim.inbox is not None
        document = sim.inbox.notices.get(timeout=10)
        assert document.execution_id == taken.execution_id
        sim.inbox.notices.put(document)  # a redelivery (QoS 1): taken once
        sim.inbox.notices.put(document)
        assert sim.step() is Outcome.SUCCEEDED
        assert state(system, taken) is S.SUCCEEDED
        assert sim.step() is None
        assert [o for _, o in sim.outcomes] == [Outcome.SUCCEEDED]
    finally:
        publisher.close()
        link.close()
        updates.stop()
        end_session(mqtt_url, f"jobs-{root[5:13]}")
