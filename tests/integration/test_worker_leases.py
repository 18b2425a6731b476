"""Worker leases and fencing tokens on both stores (`event_store.leases`): one holder at a time,
takeover after expiry with a higher token, and a fenced-off holder's late commit refused with
nothing written. Two `FleetApplication`s on one store stand for two processes (each has its own
datastore, so its own registered fences)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import ProcessRecorder, StoredEvent, Tracking

from event_store.envelope import EventMetadata
from event_store.leases import Fenced, LeaseStore, fences
from event_store.tracking import AlreadyTracked
from fleetwatch.lease_keeper import lease_of
from fleetwatch.settings import Settings
from fleetwatch.supervisor import LeaseHeld
from fleetwatch.system import System, build_system
from fleetwatch.wiring import WORKER_GROUPS, WORKERS, application_env
from ingestion.settings import IngestSettings
from read_side.device_status import DeviceFilter
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice

NAME = "Fleetwatch>telemetry"
META = EventMetadata("acme", "user:alice")
T0 = 1_000_000.0


@pytest.fixture
def other(store_settings: Settings) -> Iterator[FleetApplication]:
    """A second process's application on the same store."""
    application = FleetApplication(env=application_env(store_settings))
    yield application
    application.close()


def recorder(app: FleetApplication) -> ProcessRecorder:
    """The store's process recorder (events and a checkpoint in one transaction), as a
    process manager commits through; one per application."""
    found = _recorders.get(app)
    if found is None:
        found = _recorders[app] = app.factory.process_recorder()
    return found


_recorders: dict[FleetApplication, ProcessRecorder] = {}


def leases(app: FleetApplication) -> LeaseStore:
    return cast("LeaseStore", recorder(app))


def hold(app: FleetApplication, token: int) -> None:
    fences(cast("Any", recorder(app)).datastore).hold(NAME, token)


def event() -> StoredEvent:
    return StoredEvent(uuid4(), 1, "write_side.test:Event", b"{}")


def test_one_holder_at_a_time_and_each_taking_raises_the_token(
    app: FleetApplication, other: FleetApplication
) -> None:
    a, b = leases(app), leases(other)
    assert a.read_lease(NAME) is None
    first = a.acquire_lease(NAME, "a", ttl=6, now=T0)
    assert first is not None
    assert (first.owner, first.token, first.expires_at) == ("a", 1, T0 + 6)
    assert b.acquire_lease(NAME, "b", ttl=6, now=T0 + 5.9) is None  # still running
    renewed = a.renew_lease(first, ttl=6, now=T0 + 5)
    assert renewed is not None
    assert renewed.token == 1
    assert b.acquire_lease(NAME, "b", ttl=6, now=T0 + 10) is None  # the renewal counts
    taken = b.acquire_lease(NAME, "b", ttl=6, now=T0 + 11.5)  # expired: taken over
    assert taken is not None
    assert (taken.owner, taken.token) == ("b", 2)
    assert a.renew_lease(renewed, ttl=6, now=T0 + 12) is None  # the old holder learns it
    a.release_lease(renewed)  # gives up nothing it no longer holds
    assert b.read_lease(NAME) == taken
    b.release_lease(taken)
    assert a.read_lease(NAME) is None
    again = a.acquire_lease(NAME, "a", ttl=6, now=T0 + 12.5)  # released: free at once
    assert again is not None
    assert again.token == 3  # never given twice


def test_a_running_lease_is_stolen_only_as_read(
    app: FleetApplication, other: FleetApplication
) -> None:
    a, b = leases(app), leases(other)
    first = a.acquire_lease(NAME, "a", ttl=6, now=T0)
    assert first is not None
    renewed = a.renew_lease(first, ttl=6, now=T0 + 1)  # same token: still as read
    assert renewed is not None
    stolen = b.steal_lease(first, "b", ttl=6, now=T0 + 2)
    assert stolen is not None
    assert (stolen.owner, stolen.token, stolen.expires_at) == ("b", 2, T0 + 8)
    assert b.read_lease(NAME) == stolen
    assert a.renew_lease(renewed, ttl=6, now=T0 + 3) is None  # the victim learns it
    assert a.steal_lease(first, "a", ttl=6, now=T0 + 3) is None  # no longer as read


def test_a_released_or_rebuilt_checkpoint_keeps_the_token_sequence(app: FleetApplication) -> None:
    """A rebuild forgets the checkpoint, not the lease (DynamoDB keeps both on one item)."""
    store = leases(app)
    first = store.acquire_lease(NAME, "a", ttl=6, now=T0)
    assert first is not None
    recorder(app).insert_tracking(Tracking(NAME, 5))
    forget = getattr(recorder(app), "delete_tracking", None)
    if forget is not None:  # DynamoDB
        forget(NAME)
        assert recorder(app).max_tracking_id(NAME) is None
    store.release_lease(first)
    second = store.acquire_lease(NAME, "b", ttl=6, now=T0)
    assert second is not None
    assert second.token == 2


def test_a_fenced_off_holders_late_commit_is_refused_and_writes_nothing(
    app: FleetApplication, other: FleetApplication
) -> None:
    a, b = leases(app), leases(other)
    first = a.acquire_lease(NAME, "a", ttl=6, now=T0)
    assert first is not None
    hold(app, first.token)
    recorder(app).insert_events([event()], tracking=Tracking(NAME, 1))  # held: accepted
    assert recorder(app).max_tracking_id(NAME) == 1
    # "a" pauses past its expiry; "b" takes the consumer over and commits
    taken = b.acquire_lease(NAME, "b", ttl=6, now=T0 + 7)
    assert taken is not None
    hold(other, taken.token)
    recorder(other).insert_tracking(Tracking(NAME, 2))
    head = recorder(app).max_notification_id()
    # the late commits of "a": events with the checkpoint, the checkpoint alone, both ahead
    late = event()
    with pytest.raises(Fenced):
        recorder(app).insert_events([late], tracking=Tracking(NAME, 3))
    with pytest.raises(Fenced):
        recorder(app).insert_tracking(Tracking(NAME, 4))
    # and behind the successor's position: still named as fenced, not as already tracked
    with pytest.raises(Fenced):
        recorder(app).insert_tracking(Tracking(NAME, 2))
    assert recorder(app).max_tracking_id(NAME) == 2
    assert recorder(app).max_notification_id() == head
    assert recorder(app).select_events(late.originator_id) == []
    # the holder goes on
    recorder(other).insert_tracking(Tracking(NAME, 5))
    assert recorder(other).max_tracking_id(NAME) == 5
    with pytest.raises(AlreadyTracked) as caught:
        recorder(other).insert_tracking(Tracking(NAME, 5))
    assert not isinstance(caught.value, Fenced)


def test_a_process_without_a_fence_is_not_checked(
    app: FleetApplication, other: FleetApplication
) -> None:
    """Leases off, or a rebuild: no token registered, so no lease is consulted."""
    taken = leases(other).acquire_lease(NAME, "b", ttl=6, now=T0)
    assert taken is not None
    recorder(app).insert_tracking(Tracking(NAME, 1))
    assert recorder(other).max_tracking_id(NAME) == 1


# ---- the supervisor: processes told to run the same workers split them; takeover; fencing

FAST = {"lease_ttl": 1.5, "lease_interval": 0.25}


def fleet(settings: Settings, **updates: object) -> System:
    system = build_system(settings.model_copy(update=FAST | updates), IngestSettings())
    system.start()
    return system


@pytest.fixture
def two(store_settings: Settings) -> Iterator[tuple[System, System]]:
    """Two "processes" on one store, each told to run every worker: the first takes them all."""
    first = fleet(store_settings)
    second = fleet(store_settings)
    yield first, second
    for system in (second, first):
        system.close()


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held; fails after `timeout`."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "not within the timeout"
        time.sleep(0.05)
    return time.monotonic() - began


def register(system: System, name: str) -> tuple[UUID, int]:
    saved = system.device_service.register(RegisterDevice(name=name, device_type="pump"), META)
    return saved.aggregate.id, saved.position


def split(*systems: System) -> list[frozenset[str]]:
    return [system.supervisor.running for system in systems]


def test_processes_split_the_workers_and_take_them_back_when_one_stops(
    two: tuple[System, System],
) -> None:
    first, second = two
    everything = frozenset(WORKERS)
    # The first takes all at its start; the second then takes one a turn from it, while it
    # has fewer than its share (8 of 15) and the first more.
    wait_until(lambda: len(second.supervisor.running) == len(WORKERS) // 2, timeout=20)
    time.sleep(4 * FAST["lease_interval"])  # settled: no more moves
    held = split(first, second)
    assert [len(names) for names in held] == [8, 7]
    assert held[0] | held[1] == everything
    assert not held[0] & held[1]
    # the group that reads telemetry together moved last: it stayed whole in the first
    assert {"device_status", "telemetry", "alerting", "dashboard"} <= held[0]
    # every model is up to date whichever process runs it
    device, position = register(second, "p1")
    assert second.wait_for(position, timeout=20)
    assert first.wait_for(position, timeout=20)
    assert second.devices.get("acme", device) is not None
    # a clean stop gives the leases up: the other process takes them at its next turn
    first.close()
    took = wait_until(lambda: second.supervisor.running == everything, timeout=10)
    assert took < 2.0  # released, not expired: one turn (0.25 s) and the starts
    device, position = register(second, "p2")
    assert second.wait_for(position, timeout=20)
    assert second.devices.get("acme", device) is not None
    assert second.dispatcher is not None
    assert second.dispatcher._thread is not None


def test_a_paused_holder_is_taken_over_and_its_late_commits_are_refused(
    two: tuple[System, System],
) -> None:
    first, second = two
    group = frozenset(WORKER_GROUPS[0])  # device status among them
    keeper = first.supervisor._keeper
    assert keeper is not None
    keeper.stop()  # the first process stops renewing (a pause); its workers go on
    took = wait_until(lambda: second.supervisor.running == frozenset(WORKERS), timeout=10)
    assert took <= FAST["lease_ttl"] + FAST["lease_interval"] + 2.0
    # Hold the new holder's group back, so only the paused process's group tries to apply
    # the next event (else whichever is first decides whether the other has anything to do).
    other = second.supervisor._keeper
    assert other is not None
    other.stop()

    def held_back() -> bool:  # a turn of the supervisor without the group, until it ended
        second.supervisor._reconcile(frozenset(WORKERS) - group)
        return not second.supervisor._draining

    wait_until(held_back, timeout=10)
    stale = first.workers["device_status"]
    device, position = register(second, "late")
    wait_until(lambda: stale.position >= position, timeout=20)
    assert stale.fenced_commits >= 1  # its commit was refused ...
    assert second.devices.get("acme", device) is None  # ... and wrote nothing
    other.turn()  # the new holder's group runs again and applies it
    assert second.wait_for(position, timeout=20)
    assert second.devices.get("acme", device) is not None
    keeper.turn()  # the pause ends: the renewals find other tokens, the workers stop
    # (and it takes one non-grouped worker back towards its share)
    assert len(first.supervisor.running) <= 1
    assert not group & first.supervisor.running
    tokens = {name: lease_of(w) for name, w in second.workers.items()}
    assert all(lease is not None and lease.token >= 2 for lease in tokens.values()), tokens
    # nothing was applied twice or lost: the read model holds the device once, as registered
    page = second.devices.list("acme", DeviceFilter(), 10, None)
    assert [d.device_id for d in page.items] == [device]


def test_a_rebuild_takes_the_workers_lease_or_names_who_runs_it(
    store_settings: Settings,
) -> None:
    running = fleet(store_settings)
    idle = build_system(store_settings.model_copy(update=FAST), IngestSettings())  # not started
    try:
        register(running, "p")
        owner = lease_of(running.workers["device_status"])
        assert owner is not None
        with pytest.raises(LeaseHeld, match=f"device_status runs in {owner.owner}"):
            idle.rebuild("device_status")
        running.close()  # its leases are released
        assert idle.rebuild("device_status") >= 1
        assert lease_of(idle.workers["device_status"]) is None  # released after the rebuild
    finally:
        idle.close()
        running.close()
