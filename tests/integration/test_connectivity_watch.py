"""Offline detection without ingestion (issue 14; `projections.connectivity`), on SQLite and
DynamoDB Local, with the clocks in the test's hands: the online devices found from the feed's
connectivity events at start; a sign of life postpones the decision, which the device's own
stream takes; a second decider (another process) records no second offline transition; and the
system starts the watch with its projections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings
from projections.connectivity import ConnectivityWatch
from write_side.application import FleetApplication
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import TELEMETRY_DEVICE_WENT_OFFLINE, Telemetry, telemetry_id

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
META = EventMetadata("acme", "system:ingestion")


def batch(app: FleetApplication, device: uuid.UUID, at: datetime) -> Telemetry:
    stream = app.load_telemetry(telemetry_id("acme", device)) or Telemetry(
        tenant_id="acme", device_id=device
    )
    stream.record([BatchEntry(uuid.uuid4().hex, at, (Reading("temp", 1.0, at),))], at, "http")
    app.save_telemetry([stream], META)
    return stream


def offline_events(app: FleetApplication, device: uuid.UUID) -> list[dict[str, object]]:
    stream = telemetry_id("acme", device)
    return [
        vars(e) for e in app.events.get(stream)
        if type(e).__qualname__ == TELEMETRY_DEVICE_WENT_OFFLINE.type
    ]  # fmt: skip


class Clocks:
    def __init__(self) -> None:
        self.wall, self.mono = T0, 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def watch(app: FleetApplication, clocks: Clocks) -> ConnectivityWatch:
    return ConnectivityWatch(app, 1, clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)


def test_a_silent_device_goes_offline_once_whoever_decides(app: FleetApplication) -> None:
    clocks = Clocks()
    a, b, c = (uuid.uuid4() for _ in range(3))
    batch(app, a, T0)
    gone = batch(app, b, T0)
    assert gone.check_heartbeat(T0 + timedelta(seconds=10), 1)  # b went offline already
    app.save_telemetry([gone], META)

    first, second = watch(app, clocks), watch(app, clocks)  # two processes
    first.start_state()
    second.start_state()
    assert set(first.seen) == {telemetry_id("acme", a)}  # b is offline, c never reported

    clocks.advance(0.5)
    assert first.check() == 0  # its stream says: silent 0.5 s, not yet
    batch(app, a, clocks.wall + timedelta(seconds=0.3))  # a sign of life
    clocks.advance(0.8)
    assert first.follow() == 1  # the batch's notification
    assert first.check() == 0  # seen 0 s ago
    clocks.advance(1.5)
    first.follow()
    assert first.check() == 1
    assert second.check() == 0  # it finds the stream offline: nothing recorded twice
    (event,) = offline_events(app, a)
    assert event["last_seen_at"] == T0 + timedelta(seconds=0.8)
    assert event["detected_at"] == clocks.wall
    assert offline_events(app, c) == []

    third = watch(app, clocks)  # a later start: a is offline, nothing to watch
    third.start_state()
    assert third.seen == {}


def test_the_system_runs_the_watch_with_its_projections(store_settings: Settings) -> None:
    system = build_system(store_settings)
    assert system.connectivity is not None
    system.start()
    try:
        thread = system.connectivity._thread
        assert thread is not None
        assert thread.is_alive()
    finally:
        system.close()
    assert system.connectivity._thread is None


def test_a_devices_own_timeout_is_kept(app: FleetApplication) -> None:
    clocks = Clocks()
    patient, plain = uuid.uuid4(), uuid.uuid4()
    for device in (patient, plain):
        batch(app, device, T0)
    own = {patient: 10}
    watcher = ConnectivityWatch(app, 1, timeout_of=own.get, clock=lambda: clocks.wall,
                                monotonic=lambda: clocks.mono)  # fmt: skip
    watcher.start_state()
    clocks.advance(3)
    assert watcher.check() == 1  # the plain one: 3 s > 1 s; the patient one waits for 10 s
    assert offline_events(app, patient) == []
    clocks.advance(8)
    assert watcher.check() == 1
    assert len(offline_events(app, patient)) == 1
