"""Job updates over MQTT (docs/firmware.md 12.5) through the real Mosquitto at `mqtt_url`
(127.0.0.1:1883, or FLEETWATCH_TEST_MQTT_URL; started by the session when none answers; fails,
never skips, when it can not be), on both stores: a device reports its way to SUCCEEDED and
gets each answer on `.../update/accepted` or `/rejected`; a redelivered seq is answered
`duplicate`, a stale one `STALE_UPDATE`, another device's execution `NOT_FOUND`, bad JSON
`INVALID_INPUT` naming `body`, a foreign token `UNAUTHENTICATED`; nothing stored for those."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import paho.mqtt.client as mqtt
import pytest
from local_services import MOSQUITTO, endpoint
from paho.mqtt.enums import CallbackAPIVersion

from fleetwatch.bootstrap import System
from ingestion.jobs_mqtt import JobUpdatesSubscriber
from ingestion.mqtt_session import end_session
from tests.integration.device_jobs_fixtures import TARGET, device, job, stored, system, update
from write_side.deployment_states import ExecutionState

__all__ = ["system"]
WAIT_S = 10


@pytest.fixture
def root() -> str:
    return f"test-{uuid.uuid4().hex[:8]}/devices"  # our own topics


@pytest.fixture
def subscriber(system: System, mqtt_url: str, root: str) -> Iterator[JobUpdatesSubscriber]:
    assert system.device_jobs is not None
    client_id = f"fleetwatch-jobs-{uuid.uuid4().hex[:8]}"
    started = JobUpdatesSubscriber(
        system.device_jobs, mqtt_url, client_id=client_id, topic_root=root, shared_group=None
    )
    started.start()
    yield started
    started.stop()
    end_session(mqtt_url, client_id)  # leave no session


class Device:
    """A device's MQTT client: publishes updates, collects the answers."""

    def __init__(self, broker: tuple[str, int], root: str, device_id: UUID, token: str) -> None:
        self.root, self.device_id, self.token = root, device_id, token
        self.answers: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{device_id.hex}")
        self.client.on_message = lambda _c, _u, m: self.answers.put(
            (m.topic.rsplit("/", 1)[1], json.loads(m.payload))
        )
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(*broker)
        self.client.loop_start()
        self.client.subscribe(f"{root}/{device_id}/jobs/+/update/+", qos=1)
        assert subscribed.wait(WAIT_S), "no SUBACK"  # before any answer is published

    def send(self, execution: UUID, body: dict[str, Any] | bytes) -> tuple[str, dict[str, Any]]:
        payload = body if isinstance(body, bytes) else json.dumps({"token": self.token} | body)
        topic = f"{self.root}/{self.device_id}/jobs/{execution}/update"
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)
        return self.answers.get(timeout=WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices(mqtt_url: str, root: str) -> Iterator[list[Device]]:
    made: list[Device] = []
    yield made
    for made_device in made:
        made_device.close()


def connect(devices: list[Device], mqtt_url: str, root: str, who: UUID, token: str) -> Device:
    made = Device(endpoint(mqtt_url, MOSQUITTO.default_port), root, who, token)
    devices.append(made)
    return made


def test_updates_over_mqtt_are_answered_and_applied_once(
    system: System,
    subscriber: JobUpdatesSubscriber,
    devices: list[Device],
    mqtt_url: str,
    root: str,
) -> None:
    taken = job(system, channel="mqtt")
    pump = connect(devices, mqtt_url, root, taken.device_id, taken.token)
    execution = taken.execution_id
    assert pump.send(execution, update(1, "downloading")) == (
        "accepted",
        {"seq": 1, "duplicate": False},
    )
    before = stored(system)
    assert pump.send(execution, update(1, "downloading")) == (
        "accepted",
        {"seq": 1, "duplicate": True},
    )
    assert pump.send(execution, update(3, "downloaded")) == (
        "accepted",
        {"seq": 3, "duplicate": False},
    )
    outcome, stale = pump.send(execution, update(2, "installing"))
    assert (outcome, stale["seq"], stale["code"]) == ("rejected", 2, "STALE_UPDATE")
    outcome, bad = pump.send(execution, b"{not json")
    assert (outcome, bad["code"], bad["field"], bad["seq"]) == (
        "rejected",
        "INVALID_INPUT",
        "body",
        None,
    )
    outcome, named = pump.send(execution, update(4, "installing", deviceId=str(uuid.uuid4())))
    assert (outcome, named["field"]) == ("rejected", "deviceId")
    outcome, forged = pump.send(execution, update(4, "installing") | {"token": "fwd1.x"})
    assert (outcome, forged["code"]) == ("rejected", "UNAUTHENTICATED")
    assert stored(system) == before + 1  # only seq 3

    other_id, other_token = device(system)
    other = connect(devices, mqtt_url, root, other_id, other_token)
    outcome, foreign = other.send(execution, update(4, "installing"))
    assert (outcome, foreign["code"]) == ("rejected", "NOT_FOUND")
    before = stored(system)
    assert pump.send(execution, update(4, "installing"))[0] == "accepted"
    done = pump.send(execution, update(5, "succeeded", version=TARGET))
    assert done == ("accepted", {"seq": 5, "duplicate": False})
    outcome, late = pump.send(execution, update(6, "installing"))
    assert (outcome, late["code"]) == ("rejected", "INVALID_TRANSITION")
    assert stored(system) == before + 2
    state = system.deployment_service.get_execution("acme", execution).execution.state
    assert state is ExecutionState.SUCCEEDED
