"""The ingestion scenario on both stores (the embedded SQLite default and DynamoDB Local):
batching, per-reading rejections, refusals counted, redeliveries stored once (also after a
restart and between two processes), out-of-order data, connectivity, the device-status model."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from write_side.commands import DecommissionDevice, RegisterDevice
from write_side.credentials import IssueDeviceCredential, new_credential
from write_side.ingestion import MessageResult, Submission
from write_side.telemetry_log import telemetry_id

META = EventMetadata("acme", "user:alice")
Factory = Callable[..., System]


@pytest.fixture
def systems(store_settings: Settings) -> Iterator[Factory]:
    """Builds Systems on ONE store (several = several processes); closes them at the end."""
    settings = store_settings
    built: list[System] = []

    def build(**ingest: Any) -> System:
        system = build_system(settings, IngestSettings(**({"ingest_flush_ms": 5} | ingest)))
        system.start()
        built.append(system)
        return system

    yield build
    for system in built:
        system.close()


def device(system: System) -> tuple[uuid.UUID, str]:
    saved = system.device_service.register(RegisterDevice(name="pump", device_type="pump"), META)
    issued = system.device_service.issue_credential(
        IssueDeviceCredential(device_id=saved.aggregate.id), META
    )
    return saved.aggregate.id, issued.token


def msg(device_id: uuid.UUID, message_id: str, ago: float = 1, **metrics: Any) -> dict[str, Any]:
    return {
        "device_id": str(device_id),
        "message_id": message_id,
        "timestamp": (datetime.now(UTC) - timedelta(seconds=ago)).isoformat(),
        "metrics": metrics or {"temperature": 20.0, "humidity": 40.0, "battery": 90.0},
    }


def ingest(system: System, *messages: tuple[dict[str, Any], str | None]) -> list[MessageResult]:
    assert system.ingest is not None
    return system.ingest.ingest([Submission(m, "http", token) for m, token in messages])


def stored(system: System, device_id: uuid.UUID) -> list[str]:
    events = system.app.events.get(telemetry_id("acme", device_id))
    return [e["message_id"] for ev in events for e in getattr(ev, "entries", ())]


def settle(system: System, results: list[MessageResult]) -> None:
    assert system.wait_for(max(r.position for r in results), timeout=20)


def test_the_ingestion_scenario(systems: Factory) -> None:
    system = systems()
    (a, token_a), (b, token_b), (c, token_c) = device(system), device(system), device(system)
    system.device_service.decommission(DecommissionDevice(device_id=c), META)
    stranger = uuid.uuid4()
    results = ingest(
        system,
        (msg(a, "a3", ago=30, temperature=23.0), token_a),  # sent last, measured first
        (msg(a, "a1", ago=10, temperature=21.0, humidity=40.0), token_a),
        (msg(a, "a1", ago=10, temperature=21.0, humidity=40.0), token_a),  # redelivered
        (msg(a, "a2", ago=20, temperature=22.0, humidity="wet"), token_a),  # one bad reading
        (msg(b, "b1"), None),  # no token
        (msg(b, "b2"), token_a),  # another device's token
        (msg(stranger, "s1"), new_credential(stranger).token),
        (msg(c, "c1"), token_c),
        (msg(b, "b3", ago=-3600), token_b),  # an hour in the future: nothing valid
    )
    assert [r.status for r in results] == [
        "accepted", "accepted", "duplicate", "accepted",
        "rejected", "rejected", "rejected", "rejected", "rejected",
    ]  # fmt: skip
    assert [r.code for r in results[4:]] == [
        "UNAUTHENTICATED", "UNAUTHENTICATED", "UNKNOWN_DEVICE", "DEVICE_DECOMMISSIONED",
        "INVALID_TELEMETRY",
    ]  # fmt: skip
    assert [str(r.code) for r in results[3].rejections] == ["NOT_A_NUMBER"]
    assert stored(system, a) == ["a3", "a1", "a2"]  # one event, each message once
    assert stored(system, b) == stored(system, c) == []
    assert system.ingest is not None
    counts = system.ingest.handler.counters.snapshot()
    assert counts["messages"] == {"accepted": 3, "duplicate": 1, "rejected": 5}
    assert counts["readings_rejected_by_code"] == {"NOT_A_NUMBER": 1}

    settle(system, results)
    row = system.devices.get("acme", a)
    assert row is not None
    assert row.online is True
    assert row.last_values["temperature"] == 21.0  # newest by device time, not arrival
    assert row.last_values["humidity"] == 40.0  # a2's bad humidity was never stored
    assert row.credential_id is not None
    assert row.last_seen_at is not None


def test_redeliveries_after_a_restart_are_stored_once(systems: Factory) -> None:
    first = systems()
    a, token = device(first)
    ingest(first, (msg(a, "m1"), token), (msg(a, "m2"), token))
    first.close()
    restarted = systems()  # a new process: nothing cached
    results = ingest(restarted, (msg(a, "m2"), token), (msg(a, "m3"), token))
    assert [r.status for r in results] == ["duplicate", "accepted"]
    assert stored(restarted, a) == ["m1", "m2", "m3"]


def test_two_processes_writing_one_device_lose_and_double_nothing(systems: Factory) -> None:
    one, two = systems(), systems()
    a, token = device(one)
    ids = [f"m{i}" for i in range(60)]

    def send(system: System, offset: int) -> None:
        for i in range(offset, len(ids), 2):  # both send every message id, interleaved
            ingest(system, (msg(a, ids[i]), token), (msg(a, ids[(i + 1) % len(ids)]), token))

    threads = [threading.Thread(target=send, args=(s, k)) for k, s in enumerate((one, two))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(stored(one, a)) == sorted(ids)


def test_a_silent_device_goes_offline_and_comes_back(systems: Factory) -> None:
    system = systems(heartbeat_timeout=1, heartbeat_interval=0.2)
    a, token = device(system)
    ingest(system, (msg(a, "m1"), token))
    stream = telemetry_id("acme", a)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        loaded = system.app.load_telemetry(stream)
        if loaded is not None and loaded.online is False:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the device was not marked offline")
    results = ingest(system, (msg(a, "m2"), token))
    settle(system, results)
    kinds = [type(e).__qualname__ for e in system.app.events.get(stream)]
    assert kinds == [
        "Telemetry.Opened", "Telemetry.DeviceCameOnline", "Telemetry.BatchRecorded",
        "Telemetry.DeviceWentOffline", "Telemetry.DeviceCameOnline", "Telemetry.BatchRecorded",
    ]  # fmt: skip
    row = system.devices.get("acme", a)
    assert row is not None
    assert row.online is True
