"""Workers in a `WorkerGroup` (one thread): each applies every event it handles exactly once
and in order, from its own checkpoint; each event is read and decoded once for all of them; a
worker that fails is retried from its checkpoint while the others go on."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification, Tracking

from event_store.envelope import EventEnvelope, EventMetadata
from projections.batching import BatchingProjectionWorker
from projections.group import WorkerGroup
from read_side.notifications import ChangeNotice
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.device_service import DeviceService

META = EventMetadata("acme", "user:alice")


class Seen:
    """Records the events it handles (all, or one topic); its checkpoint is in memory, and it
    can be told to fail a number of times."""

    def __init__(self, name: str, topic: str | None = None, checkpoint: int = 0) -> None:
        self.name = name
        self.topic = topic
        self.seen: list[int] = []
        self.checkpoint = checkpoint
        self.failures = 0

    def handles(self, topic: str) -> bool:
        return self.topic is None or topic == self.topic

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the read model is unavailable")
        self.seen += [e.position or 0 for e in envelopes]  # committed with the checkpoint
        self.checkpoint = tracking.notification_id
        return []

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.checkpoint


def worker(app: FleetApplication, projection: Seen) -> BatchingProjectionWorker:
    return BatchingProjectionWorker(
        projection,
        checkpoints=projection,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        retry_delay=0.2,
    )


def write(app: FleetApplication, count: int) -> None:
    for i in range(count):
        device = DeviceService(app).register(RegisterDevice(name=f"d{i}", device_type="pump"), META)
        DeviceService(app).update(UpdateDevice(device_id=device.aggregate.id, name=f"d{i}!"), META)


def positions(app: FleetApplication, topic: str | None = None) -> list[int]:
    found = app.recorder.select_notifications(start=1, limit=10_000)
    return [n.id for n in found if topic is None or n.topic == topic]


def wait_until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_each_worker_applies_its_events_once_from_its_checkpoint_and_each_is_decoded_once(
    app: FleetApplication,
) -> None:
    write(app, 5)
    updated = "write_side.devices:Device.Updated"
    everything = Seen("everything")
    updates = Seen("updates", topic=updated)
    late = Seen("late", checkpoint=4)  # its read model already holds the first 4 events
    decoded: list[int] = []
    mapper = app.envelope_mapper
    to_envelope = mapper.to_envelope

    def counting(notification: Notification) -> EventEnvelope:
        decoded.append(notification.id)
        return to_envelope(notification)

    mapper.to_envelope = counting  # type: ignore[method-assign]
    group = WorkerGroup([worker(app, p) for p in (everything, updates, late)], max_batch=4)
    group.start()
    try:
        write(app, 5)  # while it runs
        head = app.recorder.max_notification_id() or 0
        wait_until(lambda: all(w.position >= head for w in group.workers))
    finally:
        group.stop()
    assert everything.seen == positions(app)
    assert updates.seen == positions(app, updated)
    assert late.seen == positions(app)[4:]
    assert sorted(decoded) == positions(app)  # once each, whoever needed it first


def test_a_failing_worker_is_retried_from_its_checkpoint_while_the_others_go_on(
    app: FleetApplication,
) -> None:
    write(app, 3)
    steady, flaky = Seen("steady"), Seen("flaky")
    flaky.failures = 2
    workers = [worker(app, steady), worker(app, flaky)]
    group = WorkerGroup(workers)
    group.start()
    try:
        head = app.recorder.max_notification_id() or 0
        wait_until(lambda: workers[0].position >= head)
        assert isinstance(workers[1].last_error, RuntimeError)
        wait_until(lambda: workers[1].position >= head)
    finally:
        group.stop()
    assert steady.seen == flaky.seen == positions(app)


def test_stop_ends_the_thread(app: FleetApplication) -> None:
    group = WorkerGroup([worker(app, Seen("one")), worker(app, Seen("two"))])
    group.start()
    assert "projections-one+two" in [t.name for t in threading.enumerate()]
    group.stop()
    assert "projections-one+two" not in [t.name for t in threading.enumerate()]
