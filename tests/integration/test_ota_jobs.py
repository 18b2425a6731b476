"""Job documents through the real Mosquitto (`mqtt_url`: 127.0.0.1:1883, started by the
session when none answers; fails, never skips, when it can not be): `MqttDeviceJobs` publishes
at QoS 1 to `devices/{id}/jobs/notify` and returns once acknowledged; an unreachable broker
raises. And the crash tests on both stores: a dispatcher killed (SIGKILL) between the broker's
PUBACK and the mark publishes again when restarted, never losing the notice; a timer loop
killed inside `fire` leaves every due row for the restarted loop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from local_services import MOSQUITTO, endpoint
from paho.mqtt.enums import CallbackAPIVersion

from fleetwatch.settings import Settings
from ota.mqtt_jobs import JobNotDelivered, MqttDeviceJobs
from ota.schedule import JobNotice, Timer
from ota.schedule_loops import JobDispatcher, TimerLoop
from ota.schedule_wiring import build_schedule_store
from tests.integration.ota_crash_child import render
from write_side.application import FleetApplication

ROOT_DIR = Path(__file__).resolve().parents[2]


class Subscriber:
    """A device's side: every job document received on `{root}/+/jobs/notify`."""

    def __init__(self, broker: tuple[str, int], root: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}"
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(*broker)
        self.client.loop_start()
        self.client.subscribe(f"{root}/+/jobs/notify", qos=1)
        assert subscribed.wait(5)

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, json.loads(message.payload)))
            self.lock.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            self.lock.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def root() -> str:
    return f"test-{uuid.uuid4().hex[:8]}/devices"  # our own topics


@pytest.fixture
def device(mqtt_url: str, root: str) -> Iterator[Subscriber]:
    subscriber = Subscriber(endpoint(mqtt_url, MOSQUITTO.default_port), root)
    yield subscriber
    subscriber.close()


def test_a_job_document_reaches_the_device_topic_at_qos_1(
    mqtt_url: str, root: str, device: Subscriber
) -> None:
    jobs = MqttDeviceJobs(mqtt_url, client_id=f"jobs-{uuid.uuid4().hex[:8]}", topic_root=root)
    device_id = uuid.uuid4()
    try:
        jobs.publish("acme", device_id, {"executionId": device_id, "attempt": 1})
    finally:
        jobs.close()
    [(topic, document)] = device.wait_for(1)
    assert topic == f"{root}/{device_id}/jobs/notify"
    assert document == {"executionId": str(device_id), "attempt": 1}


def test_an_unreachable_broker_raises_so_the_notice_stays_pending() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    jobs = MqttDeviceJobs(f"mqtt://127.0.0.1:{port}", timeout=1)
    with pytest.raises(JobNotDelivered):
        jobs.publish("acme", uuid.uuid4(), {"attempt": 1})
    with pytest.raises(ValueError, match="mqtt://"):
        MqttDeviceJobs("http://127.0.0.1:1883")


def _child(settings: Settings, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, FLEETWATCH_STORE=settings.store)
    env["FLEETWATCH_SQLITE_PATH"] = str(settings.sqlite_path)
    env["FLEETWATCH_DYNAMODB_TABLE_PREFIX"] = settings.dynamodb_table_prefix
    if settings.dynamodb_endpoint_url:
        env["FLEETWATCH_DYNAMODB_ENDPOINT_URL"] = settings.dynamodb_endpoint_url
    command = [sys.executable, "-m", "tests.integration.ota_crash_child", *args]
    return subprocess.run(
        command, env=env, cwd=ROOT_DIR, capture_output=True, timeout=60, check=False
    )


def test_a_dispatcher_killed_after_the_puback_publishes_again_and_loses_nothing(
    store_settings: Settings, app: FleetApplication, mqtt_url: str, root: str, device: Subscriber
) -> None:
    store = build_schedule_store(app)
    notice = JobNotice("acme", uuid.uuid4(), uuid.uuid4(), 1, "install", "mqtt")
    store.add([notice])

    child = _child(store_settings, "dispatch", mqtt_url, root)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert len(device.wait_for(1)) == 1  # the broker had it before the kill
    assert store.pending(10) == [notice]  # never marked: not lost

    jobs = MqttDeviceJobs(mqtt_url, client_id=f"jobs-{uuid.uuid4().hex[:8]}", topic_root=root)
    try:
        assert JobDispatcher(store, jobs, render).drain().published == 1
    finally:
        jobs.close()
    received = device.wait_for(2)
    assert [document for _topic, document in received] == [render(notice)] * 2  # same dedup key
    assert store.pending(10) == []


def test_a_timer_loop_killed_while_firing_leaves_every_due_row_for_the_restart(
    store_settings: Settings, app: FleetApplication, tmp_path: Path
) -> None:
    store = build_schedule_store(app)
    now = datetime.now(UTC)
    due = [Timer(now - timedelta(seconds=s), "acme", uuid.uuid4(), 2, "stall") for s in (3, 2, 1)]
    later = Timer(now + timedelta(hours=1), "acme", uuid.uuid4(), 2, "retry")
    store.schedule([*due, later])

    fired_log = tmp_path / "fired.txt"
    child = _child(store_settings, "timers", str(fired_log))
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert fired_log.read_text().split() == [t.key for t in due]  # it fired, then died

    fired: list[Timer] = []
    assert TimerLoop(store, lambda timers, _now: fired.extend(timers)).drain() == 3
    assert fired == due
    assert store.due(now + timedelta(hours=2), 10) == [later]
