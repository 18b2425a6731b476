"""MQTT through the real Mosquitto at `mqtt_url` (127.0.0.1:1883, or FLEETWATCH_TEST_MQTT_URL;
started by the session when none answers; fails, never skips, when it can not be):
QoS 1, PUBACK only after commit, redelivery before PUBACK stored once (across a restart),
malformed and unauthenticated messages rejected and counted."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from local_services import MOSQUITTO, endpoint
from paho.mqtt.enums import CallbackAPIVersion

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from ingestion.mqtt import MqttIngestor, _Slot
from ingestion.mqtt_session import end_session
from ingestion.settings import IngestSettings
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.telemetry_log import telemetry_id

META = EventMetadata("acme", "user:alice")


@pytest.fixture(scope="module")
def broker(mqtt_url: str) -> tuple[str, int]:
    return endpoint(mqtt_url, MOSQUITTO.default_port)


@pytest.fixture
def root() -> str:
    return (
        f"test-{uuid.uuid4().hex[:8]}/devices"  # our own topics: other publishers never interfere
    )


@pytest.fixture
def client_id(broker: tuple[str, int]) -> Iterator[str]:
    client_id = f"fleetwatch-test-{uuid.uuid4().hex[:8]}"
    yield client_id
    end_session(
        f"mqtt://{broker[0]}:{broker[1]}", client_id
    )  # do not leave a persistent session behind in the broker


@pytest.fixture
def systems(tmp_path: Path) -> Iterator[Callable[[], System]]:
    built: list[System] = []

    def build() -> System:
        settings = Settings(sqlite_path=tmp_path / "fleet.sqlite3")
        system = build_system(settings, IngestSettings(ingest_flush_ms=5))
        system.start()
        built.append(system)
        return system

    yield build
    for system in built:
        system.close()


@pytest.fixture
def publisher(broker: tuple[str, int]) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect(*broker)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def ingestor(
    system: System,
    url: str,
    root: str,
    client_id: str,
    cls: type[MqttIngestor] = MqttIngestor,
    shared_group: str | None = None,
) -> MqttIngestor:
    assert system.ingest is not None
    started = cls(
        system.ingest,
        url,
        client_id=client_id,
        topic_root=root,
        shared_group=shared_group,
    )
    started.start()
    return started


def device(system: System) -> tuple[uuid.UUID, str]:
    saved = system.device_service.register(RegisterDevice(name="pump", device_type="pump"), META)
    token = system.device_service.issue_credential(
        IssueDeviceCredential(device_id=saved.aggregate.id), META
    ).token
    return saved.aggregate.id, token


def publish(client: mqtt.Client, root: str, device_id: uuid.UUID, payload: Any) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    client.publish(f"{root}/{device_id}/telemetry", body, qos=1).wait_for_publish(5)


def msg(device_id: uuid.UUID, message_id: str, token: str | None, **metrics: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "device_id": str(device_id),
        "message_id": message_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "metrics": metrics or {"temperature": 21.0, "humidity": 40.0, "battery": 90.0},
    }
    if token is not None:
        body["token"] = token
    return body


def wait_until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.05)


def stored(system: System, device_id: uuid.UUID) -> list[str]:
    events = system.app.events.get(telemetry_id("acme", device_id))
    return [e["message_id"] for ev in events for e in getattr(ev, "entries", ())]


def test_good_duplicate_malformed_and_unauthenticated_messages(
    systems: Callable[[], System],
    publisher: mqtt.Client,
    mqtt_url: str,
    root: str,
    client_id: str,
) -> None:
    system = systems()
    (a, token_a), (b, token_b) = device(system), device(system)
    subscriber = ingestor(system, mqtt_url, root, client_id)
    try:
        publish(publisher, root, a, msg(a, "m1", token_a))
        publish(publisher, root, a, msg(a, "m1", token_a))  # the device re-sent it
        publish(publisher, root, a, b"{not json")
        publish(publisher, root, b, msg(b, "m2", None))  # no token
        publish(publisher, root, b, msg(b, "m3", token_a))  # a's token for b
        publish(publisher, root, b, msg(a, "m4", token_a))  # a's message on b's topic
        publish(publisher, root, b, msg(b, "m5", token_b, temperature=float("inf"), humidity=3))
        assert system.ingest is not None
        counters = system.ingest.handler.counters
        wait_until(lambda: subscriber.acked == 7)
    finally:
        subscriber.stop()
    counts = counters.snapshot()
    assert counts["messages"] == {"accepted": 2, "duplicate": 1, "rejected": 4}
    assert counts["rejected_by_code"] == {"INVALID_TELEMETRY": 1, "UNAUTHENTICATED": 3}
    assert counts["readings_rejected_by_code"] == {"NOT_FINITE": 1}
    assert stored(system, a) == ["m1"]
    assert stored(system, b) == ["m5"]
    wait_until(lambda: (row := system.devices.get("acme", b)) is not None and bool(row.last_values))
    row = system.devices.get("acme", b)
    assert row is not None
    assert row.last_values == {"humidity": 3.0}


class CrashBeforeAck(MqttIngestor):
    """Commits, then 'crashes' before sending any PUBACK."""

    def _settle(self, slot: _Slot, ok: bool) -> None:
        self.committed = getattr(self, "committed", 0) + 1


def test_a_message_redelivered_before_its_puback_is_stored_once_across_a_restart(
    systems: Callable[[], System],
    publisher: mqtt.Client,
    mqtt_url: str,
    root: str,
    client_id: str,
) -> None:
    first = systems()
    a, token = device(first)
    crashing = ingestor(first, mqtt_url, root, client_id, CrashBeforeAck)
    publish(publisher, root, a, msg(a, "m1", token))
    wait_until(lambda: getattr(crashing, "committed", 0) == 1)
    crashing.stop()  # gone without a PUBACK: the broker keeps m1 in the session
    assert stored(first, a) == ["m1"]  # committed, not acknowledged
    first.close()

    second = systems()  # a new process, same client id: the broker redelivers m1 (DUP)
    resumed = ingestor(second, mqtt_url, root, client_id)
    try:
        wait_until(lambda: resumed.acked == 1)
    finally:
        resumed.stop()
    assert second.ingest is not None
    assert second.ingest.handler.counters.snapshot()["messages"] == {"duplicate": 1}
    assert stored(second, a) == ["m1"]
    assert resumed.received == 1


def test_a_stopped_group_member_keeps_its_share_until_its_session_is_ended(
    systems: Callable[[], System], mqtt_url: str, root: str, publisher: mqtt.Client
) -> None:
    """The broker (Mosquitto) goes on giving a stopped member of a shared subscription its
    share of the messages, queued in its session, until that client id comes back or its
    session ends (`end_session`, `fleetwatch ingest end-session`): then the others get all."""
    system = systems()
    pump, token = device(system)
    group, gone, stays = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("g", "gone", "stays"))
    ingestor(system, mqtt_url, root, gone, shared_group=group).stop()  # its session stays
    staying = ingestor(system, mqtt_url, root, stays, shared_group=group)
    try:
        for k in range(20):
            publish(publisher, root, pump, msg(pump, f"a{k}", token))
        wait_until(lambda: len(stored(system, pump)) >= 5)
        time.sleep(1.0)  # what the staying member gets, it has stored by now
        assert 5 <= len(stored(system, pump)) < 20  # the rest waits in the stopped one's session

        assert end_session(mqtt_url, gone)
        for k in range(20):
            publish(publisher, root, pump, msg(pump, f"b{k}", token))
        wait_until(lambda: {f"b{k}" for k in range(20)} <= set(stored(system, pump)))
    finally:
        staying.stop()
        end_session(mqtt_url, stays)
