"""The device-status projection against real stores: resume after a kill without applying an
event twice, rebuild from zero to an identical model, and a live worker thread."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from event_store.envelope import EventMetadata
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from projections.device_status import DeviceStatusProjection
from projections.runner import ProjectionWorker
from read_side.device_status import DeviceFilter, DeviceStatus
from write_side.application import FleetApplication
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.device_service import DeviceService

META = EventMetadata("acme", "user:alice")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Store:
    app: FleetApplication
    view: Any
    reader: Any

    def worker(self, projection: DeviceStatusProjection | None = None) -> ProjectionWorker:
        return ProjectionWorker(
            projection or DeviceStatusProjection(self.view, self.reader),
            checkpoints=self.view,
            recorder=self.app.recorder,
            mapper=self.app.envelope_mapper,
            upstream_name=self.app.name,
        )


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    settings = store_settings
    app = FleetApplication(env=application_env(settings))
    view, reader = open_read_model(app, settings, "device_status")
    yield Store(app, view, reader)
    app.close()


def populate(app: FleetApplication, count: int = 6) -> None:
    devices = DeviceService(app)
    ids = [
        devices.register(
            RegisterDevice(name=f"d{i}", device_type="pump", tags=[f"t{i % 2}"]), META
        ).aggregate.id
        for i in range(count)
    ]
    for device_id in ids[::2]:
        devices.update(UpdateDevice(device_id=device_id, name="renamed"), META)
    devices.decommission(DecommissionDevice(device_id=ids[1], reason="eol"), META)


def all_rows(store: Store) -> list[DeviceStatus]:
    return store.reader.list("acme", DeviceFilter(), 500, None).items  # type: ignore[no-any-return]


class CountingProjection(DeviceStatusProjection):
    """Counts the positions whose change was committed; can crash at a chosen position."""

    def __init__(self, view: Any, reader: Any, crash_at: int | None = None) -> None:
        super().__init__(view, reader)
        self.committed: list[int] = []
        self.crash_at = crash_at

    def process(self, envelope: Any, tracking: Tracking) -> list[Any]:
        if tracking.notification_id == self.crash_at:
            raise RuntimeError("worker killed")
        notices = super().process(envelope, tracking)
        self.committed.append(tracking.notification_id)
        return notices


def test_model_matches_the_aggregates(store: Store) -> None:
    populate(store.app)
    worker = store.worker()
    assert worker.catch_up() == 10
    rows = all_rows(store)
    assert len(rows) == 6
    for row in rows:
        device = DeviceService(store.app).get("acme", row.device_id)
        assert (row.name, row.version, row.tags) == (
            device.name,
            device.version,
            tuple(device.tags),
        )
        assert (row.lifecycle == "decommissioned") == device.is_decommissioned
    assert store.reader.list("other-tenant", DeviceFilter(), 10, None).items == []
    tagged = store.reader.list("acme", DeviceFilter(tag="t1"), 10, None).items
    assert [r.device_id for r in tagged] == [r.device_id for r in rows if "t1" in r.tags]
    assert len(tagged) == 3


def test_killed_worker_resumes_without_applying_an_event_twice(store: Store) -> None:
    populate(store.app)
    first = CountingProjection(store.view, store.reader, crash_at=7)
    with pytest.raises(RuntimeError, match="killed"):
        store.worker(first).catch_up()
    assert first.committed == [1, 2, 3, 4, 5, 6]
    second = CountingProjection(store.view, store.reader)
    resumed = store.worker(second)
    assert resumed.position == 6  # from the committed checkpoint
    resumed.catch_up()
    assert second.committed == [7, 8, 9, 10]
    assert sorted(first.committed + second.committed) == list(range(1, 11))


def test_rebuild_from_zero_yields_an_identical_model(store: Store) -> None:
    populate(store.app)
    worker = store.worker()
    worker.catch_up()
    before = all_rows(store)
    store.view.reset(worker.tracking_name)
    assert all_rows(store) == []
    rebuilt = store.worker()
    assert rebuilt.position == 0
    rebuilt.catch_up()
    assert all_rows(store) == before


def test_live_worker_applies_new_events_and_wait_for_returns(store: Store) -> None:
    worker = store.worker()
    worker.start()
    try:
        saved = DeviceService(store.app).register(
            RegisterDevice(name="live", device_type="pump"), META
        )
        assert worker.wait_for(saved.position, timeout=10)
        row = store.reader.get("acme", saved.aggregate.id)
        assert row is not None
        assert row.name == "live"
        assert not worker.wait_for(saved.position + 1, timeout=0.05)
    finally:
        worker.stop()
    assert not any(t.name.startswith("projection-") and t.is_alive() for t in threading.enumerate())


def test_get_many_reads_rows_across_batches_and_skips_missing_and_other_tenants(
    store: Store,
) -> None:
    """Over the store's batch size (DynamoDB BatchGetItem: 100 keys), unknown ids left out."""
    rows = [
        DeviceStatus(
            device_id=uuid.uuid4(),
            tenant_id="acme",
            name=f"d{i}",
            device_type="pump",
            tags=("t",),
            metadata={},
            lifecycle="active",
            version=1,
            registered_at=T0,
            updated_at=T0,
            position=i + 1,
        )
        for i in range(130)
    ]
    store.view.save_many(rows, Tracking("get-many-test", 1))
    missing = uuid.uuid4()
    wanted = [row.device_id for row in rows] + [missing, rows[0].device_id]
    found = store.reader.get_many("acme", wanted)
    assert found == {row.device_id: row for row in rows}
    assert store.reader.get_many("other-tenant", wanted) == {}
    assert store.reader.get_many("acme", []) == {}
