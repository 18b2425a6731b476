"""The event-store port's contract (the library's `ApplicationRecorder`), run on every adapter.

Every adapter must:
- append with expected-version semantics: a call that would write an existing (stream, version)
  raises the library's IntegrityError and writes nothing at all, not even its other streams;
- read a stream by version (gt, lte, desc, limit);
- keep one feed: every event once, positions strictly increasing and gap-free, each call's events
  contiguous, `select_notifications` paging every event exactly once;
- deliver the feed through `subscribe`: what was there before, then what comes, in order, exactly
  once, until `stop()`;
- and keep all of that with several writers at once (the hypothesis state machine at the end).

Apart from the test of an empty store, the tests don't assume one: they use fresh streams, and
positions relative to the head at their start.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)
from eventsourcing.utils import Environment
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.hypothesis_profiles import examples

WAIT = 10.0  # seconds: the longest a test waits for a subscription to deliver


def open_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[InfrastructureFactory[Any], ApplicationRecorder]:
    if kind == "sqlite":
        env = Environment(
            "Test",
            {
                "PERSISTENCE_MODULE": "event_store.sqlite",
                "SQLITE_DBNAME": str(tmp_path / f"events-{uuid4().hex}.db"),
            },
        )
    else:
        env = Environment(
            "Test",
            {
                "PERSISTENCE_MODULE": "event_store.dynamodb",
                "DYNAMODB_ENDPOINT_URL": request.getfixturevalue("dynamodb_endpoint"),
                "DYNAMODB_TABLE_PREFIX": request.getfixturevalue("table_prefix"),
            },
        )
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env)
    return factory, factory.application_recorder()


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def recorder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApplicationRecorder]:
    factory, store = open_store(request.param, request, tmp_path)
    yield store
    factory.close()


@pytest.fixture
def new_store(
    request: pytest.FixtureRequest, recorder: ApplicationRecorder, tmp_path: Path
) -> Iterator[Callable[[], ApplicationRecorder]]:
    """A store for each hypothesis example: a new SQLite file; for DynamoDB, whose tables are
    slow to create, the test's store again (examples use fresh streams and relative positions).
    """
    factories: list[InfrastructureFactory[Any]] = []

    def new() -> ApplicationRecorder:
        assert isinstance(request.node, pytest.Function)
        if request.node.callspec.params["recorder"] != "sqlite":
            return recorder
        factory, store = open_store("sqlite", request, tmp_path)
        factories.append(factory)
        return store

    yield new
    for factory in factories:
        factory.close()


def event(stream: UUID, version: int, topic: str = "Test.Happened", **state: object) -> StoredEvent:
    body = {"stream": str(stream), "version": version, **state}
    return StoredEvent(stream, version, topic, json.dumps(body).encode())


def head(recorder: ApplicationRecorder) -> int:
    return recorder.max_notification_id() or 0


def feed_after(recorder: ApplicationRecorder, position: int) -> list[Notification]:
    return list(recorder.select_notifications(position, 100_000, inclusive_of_start=False))


def keys(events: Sequence[StoredEvent]) -> list[tuple[UUID | str, int, str, bytes]]:
    return [(e.originator_id, e.originator_version, e.topic, e.state) for e in events]


# Appending and reading streams.


def test_append_then_read_the_stream(recorder: ApplicationRecorder) -> None:
    stream = uuid4()
    assert recorder.select_events(stream) == []
    events = [event(stream, v, payload="é" * v) for v in (1, 2, 3)]
    recorder.insert_events(events[:1])
    recorder.insert_events(events[1:])

    stored = recorder.select_events(stream)

    assert keys(stored) == keys(events)
    assert all(isinstance(e.originator_id, UUID) for e in stored)
    assert all(isinstance(e.state, bytes) for e in stored)
    assert recorder.select_events(uuid4()) == []


def test_insert_returns_the_positions_of_the_events(recorder: ApplicationRecorder) -> None:
    start = head(recorder)
    first = recorder.insert_events([event(uuid4(), 1), event(uuid4(), 1)])
    second = recorder.insert_events([event(uuid4(), 1)])
    assert list(first or []) == [start + 1, start + 2]
    assert list(second or []) == [start + 3]
    assert head(recorder) == start + 3
    assert recorder.insert_events([]) in (None, [])
    assert head(recorder) == start + 3


def test_max_notification_id_is_none_on_an_empty_store(recorder: ApplicationRecorder) -> None:
    assert recorder.max_notification_id() is None
    recorder.insert_events([event(uuid4(), 1)])
    assert recorder.max_notification_id() == 1


def test_appending_an_existing_version_fails_and_writes_nothing(
    recorder: ApplicationRecorder,
) -> None:
    stream, other, new = uuid4(), uuid4(), uuid4()
    recorder.insert_events([event(stream, 1), event(other, 1)])
    start = head(recorder)

    conflicting_calls = [
        [event(stream, 1, attempt=1)],  # The version exists.
        [event(stream, 2), event(stream, 1, attempt=2)],  # The conflict comes last.
        [event(new, 1), event(other, 2), event(stream, 1, attempt=3)],  # Across streams.
        [event(stream, 1, attempt=4), event(new, 1), event(other, 2)],  # The conflict first.
        [event(new, 1), event(new, 1, attempt=5)],  # A duplicate within the call.
        [event(new, 1), event(new, 2), event(other, 2), event(other, 2, attempt=6)],
    ]
    for call in conflicting_calls:
        with pytest.raises(IntegrityError):
            recorder.insert_events(call)

    assert keys(recorder.select_events(stream)) == keys([event(stream, 1)])
    assert keys(recorder.select_events(other)) == keys([event(other, 1)])
    assert recorder.select_events(new) == []
    assert head(recorder) == start
    assert feed_after(recorder, start) == []

    # The store goes on as before: the next writes get the next positions.
    assert list(recorder.insert_events([event(stream, 2), event(new, 1)]) or []) == [
        start + 1,
        start + 2,
    ]


def test_versions_need_not_start_at_one_nor_be_contiguous(recorder: ApplicationRecorder) -> None:
    # The store checks uniqueness only; gap rules are the domain's business.
    stream = uuid4()
    recorder.insert_events([event(stream, 0), event(stream, 5)])
    assert [e.originator_version for e in recorder.select_events(stream)] == [0, 5]


def test_read_a_stream_by_version(recorder: ApplicationRecorder) -> None:
    stream = uuid4()
    events = [event(stream, v) for v in range(1, 11)]
    recorder.insert_events(events[:4])
    recorder.insert_events([event(uuid4(), 1)])  # Another stream in between.
    recorder.insert_events(events[4:])

    def read(
        gt: int | None = None,
        lte: int | None = None,
        *,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[int]:
        selected = recorder.select_events(stream, gt=gt, lte=lte, desc=desc, limit=limit)
        return [e.originator_version for e in selected]

    assert read() == list(range(1, 11))
    assert read(gt=3) == list(range(4, 11))
    assert read(lte=3) == [1, 2, 3]
    assert read(gt=3, lte=6) == [4, 5, 6]
    assert read(gt=6, lte=6) == []
    assert read(gt=10) == []
    assert read(lte=0) == []
    assert read(limit=3) == [1, 2, 3]
    assert read(gt=2, limit=3) == [3, 4, 5]
    assert read(desc=True) == list(range(10, 0, -1))
    assert read(desc=True, limit=1) == [10]  # The last event (as for snapshots).
    assert read(desc=True, lte=5, limit=2) == [5, 4]
    assert read(desc=True, gt=7) == [10, 9, 8]
    assert read(desc=True, gt=2, lte=5) == [5, 4, 3]
    assert keys(recorder.select_events(stream, gt=8)) == keys(events[8:])


# The feed.


def test_the_feed_is_ordered_and_gap_free(recorder: ApplicationRecorder) -> None:
    start = head(recorder)
    streams = [uuid4() for _ in range(3)]
    calls = [
        [event(streams[0], 1), event(streams[0], 2)],
        [event(streams[1], 1)],
        [event(streams[2], 1), event(streams[0], 3), event(streams[1], 2)],
        [event(streams[2], 2)],
    ]
    for call in calls:
        recorder.insert_events(call)

    feed = feed_after(recorder, start)

    assert [n.id for n in feed] == list(range(start + 1, start + 8))
    assert keys(feed) == keys([e for call in calls for e in call])  # In the order of the calls.
    assert head(recorder) == feed[-1].id


def test_select_notifications_pages_every_event_exactly_once(
    recorder: ApplicationRecorder,
) -> None:
    start = head(recorder)
    topics = ["A.Created", "B.Created", "A.Changed"]
    events = [
        event(uuid4(), 1, topic=topics[i % 3], i=i)
        for i in range(17)  # Not a multiple of any page size below.
    ]
    for i in range(0, 17, 4):
        recorder.insert_events(events[i : i + 4])
    everything = feed_after(recorder, start)
    assert keys(everything) == keys(events)
    ids = [n.id for n in everything]

    for size in (1, 2, 3, 5, 16, 17, 100):
        # Inclusive paging (`start` is the first position wanted) ...
        pages: list[Notification] = []
        position = start + 1
        while page := recorder.select_notifications(position, size):
            assert len(page) <= size
            pages += page
            position = page[-1].id + 1
        assert [n.id for n in pages] == ids, size
        # ... and exclusive paging (`start` is the last position seen).
        pages = []
        position = start
        while page := recorder.select_notifications(position, size, inclusive_of_start=False):
            pages += page
            position = page[-1].id
        assert [n.id for n in pages] == ids, size

    # `stop` is inclusive.
    assert [n.id for n in recorder.select_notifications(ids[2], 100, stop=ids[5])] == ids[2:6]
    assert [n.id for n in recorder.select_notifications(ids[2], 2, stop=ids[5])] == ids[2:4]
    window = recorder.select_notifications(ids[2], 100, stop=ids[5], inclusive_of_start=False)
    assert [n.id for n in window] == ids[3:6]
    assert recorder.select_notifications(ids[-1], 10, inclusive_of_start=False) == []

    # Topics filter the feed, paging included.
    wanted = {"A.Created", "A.Changed"}
    expected = [n.id for n in everything if n.topic in wanted]
    pages = []
    position = start
    while page := recorder.select_notifications(
        position, 2, topics=sorted(wanted), inclusive_of_start=False
    ):
        assert {n.topic for n in page} <= wanted
        pages += page
        position = page[-1].id
    assert [n.id for n in pages] == expected
    b_only = recorder.select_notifications(start + 1, 100, topics=["B.Created"], stop=ids[8])
    assert [n.id for n in b_only] == [n.id for n in everything[:9] if n.topic == "B.Created"]


# Subscriptions.


@dataclass
class Follower:
    """Reads a subscription in a thread, so that a test can wait for it with a timeout."""

    subscription: Subscription[ApplicationRecorder]

    def __post_init__(self) -> None:
        self.received: queue.Queue[Notification | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for notification in self.subscription:
                self.received.put(notification)
        finally:
            self.received.put(None)  # The end of the iteration.

    def take(self, count: int) -> list[Notification]:
        taken: list[Notification] = []
        for _ in range(count):
            try:
                notification = self.received.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"the subscription delivered {len(taken)} of {count} events")
            assert notification is not None, "the subscription ended"
            taken.append(notification)
        return taken

    def stop(self) -> None:
        self.subscription.stop()
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "stop() did not end the iteration"


def test_subscribe_delivers_recorded_then_new_events_in_order_exactly_once(
    recorder: ApplicationRecorder,
) -> None:
    start = head(recorder)
    before = [event(uuid4(), 1, i=i) for i in range(3)]
    recorder.insert_events(before[:2])
    recorder.insert_events(before[2:])
    follower = Follower(recorder.subscribe(gt=start))
    try:
        assert keys(follower.take(3)) == keys(before)
        after = [event(uuid4(), 1, i=i) for i in range(3, 7)]
        recorder.insert_events(after[:1])
        recorder.insert_events(after[1:])
        got = follower.take(4)
        assert keys(got) == keys(after)
        assert [n.id for n in got] == list(range(start + 4, start + 8))
        # Nothing twice: the next thing delivered is the next event.
        sentinel = event(uuid4(), 1)
        recorder.insert_events([sentinel])
        assert keys(follower.take(1)) == keys([sentinel])
        assert follower.received.empty()
    finally:
        follower.stop()


def test_subscribe_from_a_position_and_from_the_start(recorder: ApplicationRecorder) -> None:
    start = head(recorder)
    events = [event(uuid4(), 1, i=i) for i in range(5)]
    recorder.insert_events(events)
    follower = Follower(recorder.subscribe(gt=start + 2))
    try:
        assert keys(follower.take(3)) == keys(events[2:])
    finally:
        follower.stop()
    everything = feed_after(recorder, 0)
    follower = Follower(recorder.subscribe(gt=None))
    try:
        assert keys(follower.take(len(everything))) == keys(everything)
    finally:
        follower.stop()


def test_subscribe_filters_topics(recorder: ApplicationRecorder) -> None:
    start = head(recorder)
    events = [event(uuid4(), 1, topic=t) for t in ("A", "B", "A", "C")]
    recorder.insert_events(events[:2])
    follower = Follower(recorder.subscribe(gt=start, topics=["A", "C"]))
    try:
        assert keys(follower.take(1)) == keys(events[:1])
        recorder.insert_events(events[2:])
        assert keys(follower.take(2)) == keys(events[2:])
    finally:
        follower.stop()


def test_subscribe_with_concurrent_writers(recorder: ApplicationRecorder) -> None:
    start = head(recorder)
    writers, calls, size = 4, 10, 3
    follower = Follower(recorder.subscribe(gt=start))
    try:

        def write() -> None:
            for _ in range(calls):
                stream = uuid4()
                recorder.insert_events([event(stream, v) for v in range(1, size + 1)])

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        got = follower.take(writers * calls * size)
        for thread in threads:
            thread.join()
        assert [n.id for n in got] == list(range(start + 1, start + 1 + writers * calls * size))
        assert keys(got) == keys(feed_after(recorder, start))
        assert follower.received.empty()
    finally:
        follower.stop()


def test_stop_ends_a_subscription(recorder: ApplicationRecorder) -> None:
    recorder.insert_events([event(uuid4(), 1)])
    # While waiting for new events.
    follower = Follower(recorder.subscribe(gt=head(recorder)))
    follower.stop()
    assert follower.received.get(timeout=WAIT) is None
    # After delivering some events: nothing more, even with more events recorded.
    recorder.insert_events([event(uuid4(), 1), event(uuid4(), 1)])
    with recorder.subscribe(gt=head(recorder) - 2) as subscription:
        for count, _ in enumerate(subscription, 1):
            subscription.stop()
            assert count == 1
    # Before iterating.
    subscription = recorder.subscribe(gt=None)
    subscription.stop()
    assert list(subscription) == []


# Concurrent writers, checked against a model.

STREAMS = 4

Segment = tuple[int, int, int]  # (stream index, number of events, staleness)
segments = st.tuples(
    st.integers(0, STREAMS - 1),
    st.integers(1, 3),
    st.sampled_from([0, 0, 0, 1, 2]),  # Mostly up to date; sometimes 1 or 2 versions behind.
)
calls = st.lists(segments, min_size=1, max_size=2, unique_by=lambda segment: segment[0])


@dataclass
class Call:
    events: list[StoredEvent]
    stale: bool  # It writes a version that existed before the round began: it must fail.
    result: Sequence[int] | None = None
    error: BaseException | None = None


class ConcurrentWriters(RuleBasedStateMachine):
    """Rounds of calls made by several threads at once, some with stale versions."""

    new_store: Callable[[], ApplicationRecorder]  # Set by the test.

    def __init__(self) -> None:
        super().__init__()
        self.recorder = recorder = type(self).new_store()
        self.start = head(recorder)
        self.streams = [uuid4() for _ in range(STREAMS)]  # Fresh for each example.
        self.model: dict[UUID, list[StoredEvent]] = {stream: [] for stream in self.streams}
        self.succeeded: list[Call] = []
        self.failed: list[Call] = []
        self.count = 0

    def new_call(self, plan: list[Segment]) -> Call:
        call = Call(events=[], stale=False)
        for index, size, staleness in plan:
            stream = self.streams[index]
            current = len(self.model[stream])
            first = max(1, current + 1 - staleness)
            call.stale |= first <= current
            for version in range(first, first + size):
                self.count += 1
                call.events.append(event(stream, version, n=self.count))
        return call

    @rule(plans=st.lists(calls, min_size=1, max_size=4))
    def append_concurrently(self, plans: list[list[Segment]]) -> None:
        round_ = [self.new_call(plan) for plan in plans]
        barrier = threading.Barrier(len(round_))

        def run(call: Call) -> None:
            barrier.wait()
            try:
                call.result = self.recorder.insert_events(call.events)
            except BaseException as e:
                call.error = e

        threads = [threading.Thread(target=run, args=(call,)) for call in round_]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        won = [call for call in round_ if call.error is None]
        lost = [call for call in round_ if call.error is not None]
        for call in lost:
            assert isinstance(call.error, IntegrityError), repr(call.error)
        # Stale calls fail; the others fail only when they lost a race to a call that won.
        won_slots = {(e.originator_id, e.originator_version) for c in won for e in c.events}
        assert not any(call.stale for call in won)
        for call in lost:
            slots = {(e.originator_id, e.originator_version) for e in call.events}
            assert call.stale or slots & won_slots, "a call failed without a conflict"
        # Winners never overlap, and extend their streams.
        for call in won:
            for e in call.events:
                assert isinstance(e.originator_id, UUID)
                stream = self.model[e.originator_id]
                assert e.originator_version == len(stream) + 1, "two winners overlap"
                stream.append(e)
        self.succeeded += won
        self.failed += lost

    @invariant()
    def streams_hold_exactly_the_successful_events(self) -> None:
        for stream, events in self.model.items():
            assert keys(self.recorder.select_events(stream)) == keys(events)

    @invariant()
    def the_feed_holds_each_successful_call_once_and_contiguously(self) -> None:
        feed = feed_after(self.recorder, self.start)
        expected_count = sum(len(call.events) for call in self.succeeded)
        assert [n.id for n in feed] == list(range(self.start + 1, self.start + 1 + expected_count))
        position_of = {n.state: n.id for n in feed}
        assert len(position_of) == len(feed), "an event is in the feed twice"
        for call in self.succeeded:
            positions = [position_of[e.state] for e in call.events]
            first = positions[0]
            assert positions == list(range(first, first + len(call.events)))
            assert list(call.result or positions) == positions
        for call in self.failed:
            assert not any(e.state in position_of for e in call.events), "a failed call wrote"


def test_concurrent_writers_keep_streams_and_feed_consistent(
    new_store: Callable[[], ApplicationRecorder],
) -> None:
    class Machine(ConcurrentWriters):
        pass

    Machine.new_store = new_store
    run_state_machine_as_test(
        Machine,
        settings=settings(max_examples=examples(20), stateful_step_count=10, deadline=None),
    )
