"""The timer loop and the job dispatcher (ota.schedule_loops) over the real stores (SQLite and
DynamoDB Local): due rows fire once and are removed, a failing fire keeps them, the loop sleeps
until the next due row; notices are published, marked sent, `http` and unrenderable ones are
marked without publishing, and a failed publish keeps the notice pending."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from fleetwatch.consumers import PolledJobs, build_ota_loops, notice_channel
from fleetwatch.settings import Settings
from ota.mqtt_jobs import MqttDeviceJobs
from ota.schedule import JobNotice, Timer
from ota.schedule_loops import AnnouncedTimers, JobDispatcher, TimerLoop, Wakeup
from ota.schedule_rows import ScheduleStore
from ota.schedule_wiring import build_schedule_store
from write_side.application import FleetApplication

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(app: FleetApplication) -> ScheduleStore:
    return build_schedule_store(app)


class Fired:
    """The orchestrator's `fire`, recording its calls; raises while `failing`."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Timer], datetime]] = []
        self.failing = False
        self.event = threading.Event()

    def __call__(self, timers: Sequence[Timer], now: datetime) -> None:
        self.calls.append((list(timers), now))
        self.event.set()
        if self.failing:
            raise RuntimeError("the orchestrator is down")


class Jobs:
    """A `DeviceJobs` recording what it was asked to publish; raises while `failing`."""

    def __init__(self) -> None:
        self.published: list[tuple[str, UUID, Mapping[str, object]]] = []
        self.failing = False

    def publish(self, tenant_id: str, device_id: UUID, document: Mapping[str, object]) -> None:
        if self.failing:
            raise ConnectionError("broker unreachable")
        self.published.append((tenant_id, device_id, document))


def timer(seconds: float) -> Timer:
    return Timer(T0 + timedelta(seconds=seconds), "acme", uuid4(), 2, "stall")


def notice(channel: str = "mqtt", operation: str = "install") -> JobNotice:
    return JobNotice("acme", uuid4(), uuid4(), 1, operation, channel)  # type: ignore[arg-type]


def render(notice: JobNotice) -> Mapping[str, object] | None:
    if notice.operation == "revert":  # this test's stand-in for "nothing to send any more"
        return None
    return {"executionId": str(notice.execution_id), "operation": notice.operation}


def test_due_rows_fire_once_at_their_time_and_are_removed(store: ScheduleStore) -> None:
    early, late = timer(1), timer(60)
    store.schedule([early, late])
    fired = Fired()
    loop = TimerLoop(store, fired, clock=lambda: T0 + timedelta(seconds=5))
    assert loop.run_once() == 1
    assert loop.run_once() == 0
    assert fired.calls == [([early], T0 + timedelta(seconds=5))]
    assert store.due(T0 + timedelta(hours=1), 10) == [late]


def test_a_failing_fire_keeps_the_rows_for_the_next_turn(store: ScheduleStore) -> None:
    rows = [timer(1), timer(2)]
    store.schedule(rows)
    fired = Fired()
    fired.failing = True
    loop = TimerLoop(store, fired, clock=lambda: T0 + timedelta(seconds=5), batch_size=1)
    with pytest.raises(RuntimeError):
        loop.run_once()
    assert loop._turn() == loop.poll_interval  # the thread's turn logs and waits
    fired.failing = False
    assert loop.drain() == 2
    assert [c[0] for c in fired.calls] == [[rows[0]], [rows[0]], [rows[0]], [rows[1]]]
    assert store.due(T0 + timedelta(hours=1), 10) == []


def test_the_loop_sleeps_until_the_next_due_row_at_most_max_idle(store: ScheduleStore) -> None:
    loop = TimerLoop(store, Fired(), clock=lambda: T0, max_idle=5.0)
    assert loop.run_once() == 0
    assert loop.wait_seconds() == 5.0
    store.schedule([timer(2.5), timer(60)])
    assert loop.run_once() == 0
    assert loop.next_due == T0 + timedelta(seconds=2.5)
    assert loop.wait_seconds() == 2.5


def test_a_row_stored_by_another_process_is_seen_within_max_idle(store: ScheduleStore) -> None:
    fired = Fired()
    loop = TimerLoop(store, fired, max_idle=0.2)
    loop.start()
    try:
        soon = Timer(datetime.now(UTC) + timedelta(seconds=0.3), "acme", uuid4(), 1, "wake")
        store.schedule([soon])  # not announced: the loop reads it on its next look
        assert fired.event.wait(5)
    finally:
        loop.stop()
    assert fired.calls[0][0] == [soon]
    assert fired.calls[0][1] >= soon.due_at  # never early


def test_an_announced_timer_wakes_the_idle_loop_and_fires_on_time(store: ScheduleStore) -> None:
    """The loop sleeps up to a minute between reads; a timer stored in this process (the
    orchestrator's `wake`, the schedule writer's rows) while it sleeps still fires at its time."""
    fired, wakeup = Fired(), Wakeup()
    loop = TimerLoop(store, fired, max_idle=60.0)
    wakeup.listen(loop.notify)
    reads = Counted(store)
    loop.timers = reads
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while reads.calls < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # asleep now, for up to 60 s
        soon = Timer(datetime.now(UTC) + timedelta(seconds=0.5), "acme", uuid4(), 1, "wake")
        AnnouncedTimers(store, wakeup).schedule([soon])
        assert fired.event.wait(5)
        late = datetime.now(UTC) - soon.due_at
    finally:
        loop.stop()
    assert fired.calls[0][0] == [soon]
    assert fired.calls[0][1] >= soon.due_at  # never early
    assert late < timedelta(seconds=1.0)  # the poll interval: the tolerance of 12.4
    assert reads.calls <= 4  # the first look, the woken one, the firing one (and a spare)


class Counted:
    """The store, counting the loop's reads."""

    def __init__(self, store: ScheduleStore) -> None:
        self.store, self.calls = store, 0

    def schedule(self, timers: Sequence[Timer]) -> None:
        self.store.schedule(timers)

    def due(self, now: datetime, limit: int) -> list[Timer]:
        self.calls += 1
        return self.store.due(now, limit)

    def done(self, timers: Sequence[Timer]) -> None:
        self.store.done(timers)


def test_notices_are_published_then_marked_and_polled_or_moot_ones_are_not_published(
    store: ScheduleStore,
) -> None:
    mqtt, http, moot = notice(), notice("http"), notice(operation="revert")
    store.add([mqtt, http, moot])
    jobs = Jobs()
    done = JobDispatcher(store, jobs, render).drain()
    assert (done.published, done.polled, done.dropped, done.failed) == (1, 1, 1, 0)
    document = {"executionId": str(mqtt.execution_id), "operation": "install"}
    assert jobs.published == [("acme", mqtt.device_id, document)]
    assert store.pending(10) == []


def test_a_failed_publish_keeps_the_notice_pending_until_it_goes_through(
    store: ScheduleStore,
) -> None:
    first, second = notice(), notice(operation="cancel")
    store.add([first])
    store.add([second])
    jobs = Jobs()
    jobs.failing = True
    dispatcher = JobDispatcher(store, jobs, render)
    done = dispatcher.run_once()
    assert (done.published, done.failed) == (0, 1)
    assert store.pending(10) == [first, second]  # the turn stopped at the first failure
    jobs.failing = False
    assert dispatcher.run_once().published == 2
    assert [p[1] for p in jobs.published] == [first.device_id, second.device_id]
    assert store.pending(10) == []


def test_the_running_dispatcher_delivers_what_is_added_later(store: ScheduleStore) -> None:
    jobs = Jobs()
    dispatcher = JobDispatcher(store, jobs, render, poll_interval=0.05)
    dispatcher.start()
    try:
        added = notice()
        store.add([added])
        deadline = time.monotonic() + 5
        while not jobs.published and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        dispatcher.stop()
    assert [p[1] for p in jobs.published] == [added.device_id]


def test_the_composition_root_builds_the_loops_from_settings(store: ScheduleStore) -> None:
    loops = build_ota_loops(store, Settings(), Fired(), render)
    assert isinstance(loops.publisher, PolledJobs)  # no broker: devices poll jobs/next
    assert notice_channel(Settings()) == "http"
    assert loops.timers.poll_interval == 1.0
    configured = Settings(ota_mqtt_url="mqtt://127.0.0.1:1884", ota_poll_interval=0.5)
    assert notice_channel(configured) == "mqtt"
    loops = build_ota_loops(store, configured, Fired(), render)
    assert loops.jobs.jobs is loops.publisher
    assert isinstance(loops.publisher, MqttDeviceJobs)
    assert (loops.publisher.host, loops.publisher.port) == ("127.0.0.1", 1884)
    assert loops.timers.poll_interval == loops.jobs.poll_interval == 0.5
