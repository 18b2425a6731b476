"""EventLog over the write side's own store: FleetApplication on our SQLite module."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from event_store.envelope import EventEnvelope, EventMetadata
from event_store.log import EventLog
from write_side.application import FleetApplication
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.device_service import DeviceService

ACME = EventMetadata(tenant_id="acme", actor="user:alice", correlation_id="corr-acme")
GLOBEX = EventMetadata(tenant_id="globex", actor="user:bob", correlation_id="corr-globex")


def open_app(path: Path) -> FleetApplication:
    return FleetApplication(
        env={"PERSISTENCE_MODULE": "event_store.sqlite", "SQLITE_DBNAME": str(path)}
    )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FleetApplication]:
    application = open_app(tmp_path / "fleet.db")
    yield application
    application.close()


@pytest.fixture
def log(app: FleetApplication) -> EventLog:
    return EventLog(app.recorder, app.envelope_mapper)


def register(app: FleetApplication, meta: EventMetadata, name: str = "pump") -> UUID:
    saved = DeviceService(app).register(RegisterDevice(name=name, device_type="sensor"), meta)
    return saved.aggregate.id


def rename(app: FleetApplication, meta: EventMetadata, device_id: UUID, name: str) -> None:
    DeviceService(app).update(UpdateDevice(device_id=device_id, name=name), meta)


def test_head_is_zero_when_empty_then_the_last_position(
    app: FleetApplication, log: EventLog
) -> None:
    assert log.head() == 0
    assert log.read_feed() == []
    device_id = register(app, ACME)
    rename(app, ACME, device_id, "pump 2")
    assert log.head() == 2


def test_envelope_fields(app: FleetApplication, log: EventLog) -> None:
    meta = EventMetadata(
        tenant_id="acme", actor="user:alice", correlation_id="corr-1", causation_id="cause-1"
    )
    before = datetime.now(UTC)
    command = RegisterDevice(name="pump", device_type="sensor", tags=["a"], metadata={"k": "v"})
    device_id = DeviceService(app).register(command, meta).aggregate.id

    [envelope] = log.read_stream(device_id)

    assert envelope.type == "Device.Registered"
    assert envelope.schema_version == 1
    assert envelope.tenant_id == "acme"
    assert envelope.actor == "user:alice"
    assert envelope.correlation_id == "corr-1"
    assert envelope.causation_id == "cause-1"
    assert envelope.stream_id == str(device_id)
    assert envelope.version == 1
    assert envelope.position is None  # Stream reads don't know feed positions.
    assert isinstance(envelope.event_id, UUID)
    assert before <= envelope.occurred_at <= envelope.recorded_at <= datetime.now(UTC)
    assert envelope.payload["name"] == "pump"
    assert envelope.payload["tags"] == ["a"]
    assert envelope.payload["metadata"] == {"k": "v"}
    assert "_meta" not in envelope.payload
    assert log.read_feed() == [replace(envelope, position=1)]


def test_event_ids_are_unique_and_correlation_ids_default_per_command(
    app: FleetApplication, log: EventLog
) -> None:
    first = register(app, EventMetadata(tenant_id="acme", actor="user:alice"))
    register(app, EventMetadata(tenant_id="acme", actor="device:d1"))
    rename(app, EventMetadata(tenant_id="acme", actor="system:importer"), first, "renamed")

    envelopes = log.read_feed()

    assert [e.actor for e in envelopes] == ["user:alice", "device:d1", "system:importer"]
    assert len({e.event_id for e in envelopes}) == 3
    assert len({e.correlation_id for e in envelopes}) == 3
    assert all(e.correlation_id for e in envelopes)


def test_read_stream_up_to_version(app: FleetApplication, log: EventLog) -> None:
    device_id = register(app, ACME)
    for name in ("b", "c", "d"):
        rename(app, ACME, device_id, name)
    DeviceService(app).decommission(
        DecommissionDevice(device_id=device_id, reason="worn out"), ACME
    )
    register(app, ACME, "other")  # Another stream: never mixed in.

    history = log.read_stream(device_id)
    assert [e.version for e in history] == [1, 2, 3, 4, 5]
    assert [e.type for e in history] == [
        "Device.Registered",
        "Device.Updated",
        "Device.Updated",
        "Device.Updated",
        "Device.Decommissioned",
    ]
    assert history[-1].payload["reason"] == "worn out"
    assert log.read_stream(device_id, up_to_version=3) == history[:3]
    assert log.read_stream(device_id, up_to_version=0) == []
    assert log.read_stream(device_id, up_to_version=99) == history
    assert log.read_stream(uuid4()) == []


def test_read_stream_up_to_time(app: FleetApplication, log: EventLog) -> None:
    device_id = register(app, ACME)
    time.sleep(0.01)
    rename(app, ACME, device_id, "b")
    time.sleep(0.01)
    rename(app, ACME, device_id, "c")
    history = log.read_stream(device_id)

    assert log.read_stream(device_id, up_to_time=history[0].occurred_at) == history[:1]
    assert log.read_stream(device_id, up_to_time=history[1].occurred_at) == history[:2]
    assert log.read_stream(device_id, up_to_time=history[2].occurred_at) == history
    earlier = history[0].occurred_at - timedelta(microseconds=1)
    assert log.read_stream(device_id, up_to_time=earlier) == []
    between = history[1].occurred_at + (history[2].occurred_at - history[1].occurred_at) / 2
    assert log.read_stream(device_id, up_to_time=between) == history[:2]
    # A naive time is taken as UTC; both limits together: the stricter wins.
    naive = between.astimezone(UTC).replace(tzinfo=None)
    assert log.read_stream(device_id, up_to_time=naive) == history[:2]
    assert log.read_stream(device_id, up_to_time=between, up_to_version=1) == history[:1]


def test_read_feed_is_isolated_by_tenant(app: FleetApplication) -> None:
    log = EventLog(app.recorder, app.envelope_mapper, page_size=3)  # Several pages per read.
    acme = [register(app, ACME, f"a{i}") for i in range(3)]
    globex = [register(app, GLOBEX, f"g{i}") for i in range(7)]  # More than a page in a row.
    acme.append(register(app, ACME, "a3"))
    rename(app, GLOBEX, globex[0], "g0 renamed")
    rename(app, ACME, acme[0], "a0 renamed")

    acme_feed = log.read_feed(tenant_id="acme")
    globex_feed = log.read_feed(tenant_id="globex")

    assert {e.tenant_id for e in acme_feed} == {"acme"}
    assert {e.tenant_id for e in globex_feed} == {"globex"}
    assert [e.stream_id for e in acme_feed] == [str(i) for i in [*acme, acme[0]]]
    assert [e.stream_id for e in globex_feed] == [str(i) for i in [*globex, globex[0]]]
    assert len(acme_feed) + len(globex_feed) == log.head() == 13
    assert log.read_feed(tenant_id="initech") == []

    # Paging by position: keeps reading past other tenants' events until `limit` matches.
    first = log.read_feed(tenant_id="acme", limit=3)
    assert first == acme_feed[:3]
    second = log.read_feed(tenant_id="acme", after=_position(first[-1]), limit=3)
    assert second == acme_feed[3:]
    assert log.read_feed(tenant_id="acme", after=_position(second[-1])) == []


def test_read_feed_pages_types_and_limits(app: FleetApplication, log: EventLog) -> None:
    device_ids = [register(app, ACME, f"d{i}") for i in range(4)]
    rename(app, ACME, device_ids[1], "renamed")
    DeviceService(app).decommission(DecommissionDevice(device_id=device_ids[2]), ACME)
    register(app, GLOBEX)

    feed = log.read_feed()
    assert [e.position for e in feed] == list(range(1, 8))
    assert log.read_feed(after=2, limit=3) == feed[2:5]
    assert log.read_feed(after=7) == []
    assert log.read_feed(limit=0) == []

    pages: list[EventEnvelope] = []
    after = 0
    while page := log.read_feed(after=after, limit=2):
        pages += page
        after = _position(page[-1])
    assert pages == feed

    updates = log.read_feed(types=["Device.Updated", "Device.Decommissioned"])
    assert [e.type for e in updates] == ["Device.Updated", "Device.Decommissioned"]
    registered = log.read_feed(types=["Device.Registered"], tenant_id="acme", limit=3)
    assert [e.stream_id for e in registered] == [str(i) for i in device_ids[:3]]


def test_follow_delivers_past_then_new_events_of_one_tenant(
    app: FleetApplication, log: EventLog
) -> None:
    register(app, ACME, "before")
    register(app, GLOBEX, "before")
    received: queue.Queue[EventEnvelope] = queue.Queue()

    with log.follow(after=0, tenant_id="acme") as follower:

        def read() -> None:
            for envelope in follower:
                received.put(envelope)

        reader = threading.Thread(target=read)
        reader.start()
        assert received.get(timeout=5).payload["name"] == "before"
        register(app, GLOBEX, "not for acme")
        register(app, ACME, "after")
        envelope = received.get(timeout=5)
        assert envelope.payload["name"] == "after"
        assert envelope.position == 4
    reader.join(timeout=2)  # Leaving the block stops the follower, also while it waits.
    assert not reader.is_alive()
    assert received.empty()


def test_follow_from_a_position_and_stop(app: FleetApplication, log: EventLog) -> None:
    for i in range(3):
        register(app, ACME, f"d{i}")
    follower = log.follow(after=log.head() - 1)
    assert next(follower).position == 3
    register(app, GLOBEX, "new")
    new = next(follower)
    assert (new.position, new.tenant_id) == (4, "globex")
    follower.stop()
    assert list(follower) == []


def test_follow_sees_events_of_another_application_on_the_same_file(tmp_path: Path) -> None:
    reader_app = open_app(tmp_path / "shared.db")
    writer_app = open_app(tmp_path / "shared.db")
    try:
        log = EventLog(reader_app.recorder, reader_app.envelope_mapper)
        with log.follow(after=0) as follower:
            device_id = register(writer_app, ACME)
            assert next(follower).stream_id == str(device_id)
    finally:
        writer_app.close()
        reader_app.close()


def test_works_over_any_application_recorder() -> None:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    log = EventLog(app.recorder, app.envelope_mapper)
    device_id = register(app, ACME)
    register(app, GLOBEX)
    assert [e.stream_id for e in log.read_feed(tenant_id="acme")] == [str(device_id)]
    assert log.read_stream(device_id)[0].type == "Device.Registered"
    assert log.head() == 2


def _position(envelope: EventEnvelope) -> int:
    assert envelope.position is not None
    return envelope.position
