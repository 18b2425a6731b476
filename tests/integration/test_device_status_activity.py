"""The device-status projection's issue-4 fields against real stores (SQLite, DynamoDB Local):
telemetry (last seen, online, newest value per metric by device time) and open alerts (count,
highest severity, through Raised/Escalated/Resolved, whose device comes from the alert links),
one row write per event whatever its size, batches, and a rebuild to an identical model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from event_store.envelope import EventMetadata, recording_as
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from projections.batching import BatchingProjectionWorker
from projections.device_status import DeviceStatusProjection
from read_side.device_status import DeviceFilter, DeviceStatus
from write_side.alerts import Alert
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.device_service import DeviceService
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

T0 = datetime(2026, 3, 1, tzinfo=UTC)
META = EventMetadata("acme", "user:alice")


class Store:
    def __init__(self, settings: Settings) -> None:
        self.app = FleetApplication(env=application_env(settings))
        self.view, self.reader = open_read_model(self.app, settings, "device_status")
        self.saved_rows: list[int] = []  # rows per save_many call
        real = self.view.save_many

        def counting(rows: Sequence[DeviceStatus], tracking: Tracking, **kw: Any) -> None:
            self.saved_rows.append(len(rows))
            real(rows, tracking, **kw)

        self.view.save_many = counting

    def worker(self, max_batch: int = 1000) -> BatchingProjectionWorker:
        return BatchingProjectionWorker(
            DeviceStatusProjection(self.view, self.reader),
            checkpoints=self.view,
            recorder=self.app.recorder,
            mapper=self.app.envelope_mapper,
            upstream_name=self.app.name,
            max_batch=max_batch,
        )

    def rows(self) -> list[DeviceStatus]:
        return self.reader.list("acme", DeviceFilter(), 500, None).items  # type: ignore[no-any-return]


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    settings = store_settings
    opened = Store(settings)
    yield opened
    opened.app.close()


def record(
    app: FleetApplication, device: uuid.UUID, messages: list[tuple[str, datetime, dict[str, float]]]
) -> None:
    stream = app.load_telemetry(telemetry_id("acme", device)) or Telemetry(
        tenant_id="acme", device_id=device
    )
    entries = [
        BatchEntry(mid, at, tuple(Reading(m, v, at) for m, v in metrics.items()))
        for mid, at, metrics in messages
    ]
    stream.record(entries, T0 + timedelta(hours=len(messages)), "mqtt")
    app.save_telemetry([stream], EventMetadata("acme", "system:ingestion"))


def save(app: FleetApplication, *alerts: Alert) -> None:
    with recording_as(EventMetadata("acme", "system:alerting")):
        app.save(*alerts)


def raise_alert(device: uuid.UUID, severity: str) -> Alert:
    return Alert.open(
        tenant_id="acme", rule_id=uuid.uuid4(), rule_revision=1, device_id=device, episode=1,
        severity=severity, value=1.0, at=T0,
    )  # fmt: skip


def scenario(app: FleetApplication) -> tuple[uuid.UUID, uuid.UUID]:
    devices = DeviceService(app)
    one = devices.register(RegisterDevice(name="one", device_type="pump"), META).aggregate.id
    two = devices.register(RegisterDevice(name="two", device_type="pump"), META).aggregate.id
    big = [
        (f"b{i}", T0 + timedelta(seconds=i), {"temp": float(i), "hum": 50.0}) for i in range(500)
    ]
    record(app, one, big)
    record(app, one, [("old", T0 - timedelta(days=1), {"temp": -1.0, "volt": 3.0})])
    warning, info = raise_alert(one, "warning"), raise_alert(one, "info")
    save(app, warning)
    save(app, info)
    info.escalate("critical", T0)
    save(app, info)
    warning.acknowledge("user:op", T0)  # changes nothing on the device row
    save(app, warning)
    warning.resolve("user:op", T0)
    save(app, warning)
    brief = raise_alert(two, "critical")  # raised and resolved within one batch, on device two
    brief.resolve("user:op", T0)
    save(app, brief)
    record(app, two, [("t1", T0, {"temp": 5.0})])
    silent = app.load_telemetry(telemetry_id("acme", two))
    assert silent is not None
    assert silent.check_heartbeat(T0 + timedelta(days=2), timeout_s=300)  # -> DeviceWentOffline
    app.save_telemetry([silent], EventMetadata("acme", "system:connectivity"))
    return one, two


@pytest.mark.parametrize("max_batch", [1, 1000])
def test_telemetry_and_alerts_reach_the_row(store: Store, max_batch: int) -> None:
    one, two = scenario(store.app)
    store.worker(max_batch).catch_up()
    rows = {row.device_id: row for row in store.rows()}
    first = rows[one]
    assert first.online is True
    assert first.last_seen_at == T0 + timedelta(hours=500)
    assert first.last_values == {"temp": 499.0, "hum": 50.0, "volt": 3.0}
    assert first.last_values_at["temp"] == T0 + timedelta(seconds=499)
    assert first.last_values_at["volt"] == T0 - timedelta(days=1)
    assert first.open_alerts == {uuid.UUID(str(info_id(store))).hex: "critical"}
    assert (first.open_alert_count, first.highest_open_severity) == (1, "critical")
    assert first.version == 1  # the device's own version never moves with telemetry or alerts
    second = rows[two]
    assert (second.open_alert_count, second.highest_open_severity) == (0, None)
    assert (second.online, second.last_values) == (False, {"temp": 5.0})
    if max_batch == 1:  # one event at a time: one row per write, 500 readings or not
        assert set(store.saved_rows) == {1}
        topics = [n.topic for n in store.app.recorder.select_notifications(start=1, limit=1000)]
        changing = [
            t
            for t in topics
            if t.rsplit(":", 1)[1]
            in {
                "Device.Registered",
                "Telemetry.BatchRecorded",
                "Telemetry.DeviceCameOnline",
                "Telemetry.DeviceWentOffline",
                "Alert.Raised",
                "Alert.Escalated",
                "Alert.Resolved",
            }
        ]
        assert len(topics) > len(changing) == len(store.saved_rows)


def info_id(store: Store) -> str:
    """The id of the alert still open (the escalated one) from the row itself."""
    rows = [r for r in store.rows() if r.open_alerts]
    return next(iter(rows[0].open_alerts))


def test_rebuild_yields_an_identical_model(store: Store) -> None:
    scenario(store.app)
    worker = store.worker(max_batch=3)
    worker.catch_up()
    before = store.rows()
    store.view.reset(worker.tracking_name)
    assert store.rows() == []
    rebuilt = store.worker()
    rebuilt.catch_up()
    assert store.rows() == before


def test_only_events_that_change_a_row_are_handled() -> None:
    projection = DeviceStatusProjection(view=None, reader=None)  # type: ignore[arg-type]
    assert projection.handles("write_side.telemetry_log:Telemetry.BatchRecorded")
    assert projection.handles("write_side.alerts:Alert.Resolved")
    assert not projection.handles("write_side.alerts:Alert.Acknowledged")
    assert not projection.handles("write_side.alerts:Alert.Repeated")
    assert not projection.handles("write_side.telemetry_log:Telemetry.Opened")
