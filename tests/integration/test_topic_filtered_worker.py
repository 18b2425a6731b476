"""A batching worker whose projection lists its topics reads only those from the store (SQLite),
moves its position past everything else, and misses nothing; on DynamoDB, where a concurrent
commit can show a gap for a moment, it reads everything as before."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification, Tracking

from event_store.envelope import EventEnvelope, EventMetadata
from fleetwatch.settings import Settings
from projections.batching import BatchingProjectionWorker
from read_side.notifications import ChangeNotice
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.device_service import DeviceService

META = EventMetadata("acme", "user:alice")
UPDATED = "write_side.devices:Device.Updated"


class Updates:
    """Records the `Device.Updated` events it is given; its checkpoint is in memory."""

    name = "updates"
    topics = (UPDATED,)

    def __init__(self) -> None:
        self.seen: list[tuple[int | None, str]] = []
        self.checkpoint = 0

    def handles(self, topic: str) -> bool:
        return topic == UPDATED

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        self.seen += [(e.position, e.payload["name"]) for e in envelopes]
        self.checkpoint = tracking.notification_id
        return []

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.checkpoint


def rename_devices(app: FleetApplication, count: int, prefix: str) -> list[tuple[int, str]]:
    devices = DeviceService(app)
    expected = []
    for i in range(count):
        device = devices.register(RegisterDevice(name=f"{prefix}{i}", device_type="pump"), META)
        name = f"{prefix}{i}-renamed"
        saved = devices.update(UpdateDevice(device_id=device.aggregate.id, name=name), META)
        expected.append((saved.position, name))
    return expected


def test_only_listed_topics_are_read_and_the_position_passes_the_rest(
    app: FleetApplication, store_settings: Settings
) -> None:
    returned: list[str] = []
    select = app.recorder.select_notifications

    def recording_select(*args: Any, **kwargs: Any) -> Sequence[Notification]:
        notifications = select(*args, **kwargs)
        returned.extend(n.topic for n in notifications)
        return notifications

    app.recorder.select_notifications = recording_select  # type: ignore[method-assign]
    projection = Updates()
    worker = BatchingProjectionWorker(
        projection,
        max_batch=3,  # several reads, some of them full
        checkpoints=projection,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
    )
    expected = rename_devices(app, 7, "a")
    DeviceService(app).register(RegisterDevice(name="last", device_type="pump"), META)  # skipped
    head = app.recorder.max_notification_id()

    worker.catch_up()

    assert projection.seen == expected
    assert worker.position == head
    if store_settings.store == "sqlite":
        assert worker.topics == (UPDATED,)
        assert set(returned) == {UPDATED}  # the registrations were never read
    else:
        assert worker.topics == ()  # DynamoDB: read everything, skip in the worker
        assert len(returned) == head

    worker.start()  # live: new events, handled and skipped ones, are followed
    try:
        more = rename_devices(app, 4, "b")
        head = app.recorder.max_notification_id()
        assert head is not None
        assert worker.wait_for(head, timeout=10)
    finally:
        worker.stop()
    assert projection.seen == expected + more
