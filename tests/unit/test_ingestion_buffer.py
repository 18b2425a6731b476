"""The bounded buffer: batching, backpressure, acknowledgement only after commit, retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ingestion import pacing
from ingestion.buffer import IngestService, NotCommitted, Overloaded
from tests.unit.test_ingestion_handler import Fleet, message
from write_side.ingestion import Submission


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


@pytest.fixture
def service(fleet: Fleet) -> Iterator[IngestService]:
    service = IngestService(fleet.handler, max_pending=10, flush_interval=0.01)
    service.start()
    yield service
    service.close(timeout=1)


def test_messages_complete_after_their_commit_many_per_transaction(
    fleet: Fleet, service: IngestService
) -> None:
    device, token = fleet.device()
    results = service.ingest(
        [Submission(message(device, f"m{i}"), "http", token) for i in range(8)]
    )
    assert {r.status for r in results} == {"accepted"}
    assert service.commits == 1
    assert service.pending == 0


def test_refusals_answer_at_once_without_taking_room(fleet: Fleet, service: IngestService) -> None:
    futures = service.submit([Submission(b"nope", "mqtt")] * 50, block=False)
    assert all(f.done() for f in futures)
    assert futures[0].result().code == "INVALID_TELEMETRY"


def test_a_full_buffer_says_busy_or_makes_the_producer_wait(fleet: Fleet) -> None:
    device, token = fleet.device()
    gate = threading.Event()
    real = fleet.app.save_telemetry

    def slow(streams: Any, meta: Any) -> Any:
        gate.wait(5)
        return real(streams, meta)

    fleet.app.save_telemetry = slow  # type: ignore[method-assign]
    service = IngestService(fleet.handler, max_pending=4, flush_interval=0.001)
    service.start()
    try:
        first = service.submit(
            [Submission(message(device, f"a{i}"), "http", token) for i in range(4)]
        )
        with pytest.raises(Overloaded):
            service.submit([Submission(message(device, "b"), "http", token)], block=False)
        assert fleet.handler.counters.snapshot()["rejected_by_code"] == {"OVERLOADED": 1}
        assert not any(f.done() for f in first)  # nothing answered before its commit
        waited: list[float] = []

        def producer() -> None:
            started = time.monotonic()
            service.ingest([Submission(message(device, "c"), "http", token)])
            waited.append(time.monotonic() - started)

        thread = threading.Thread(target=producer)
        thread.start()
        time.sleep(0.2)
        assert not waited  # blocked: no room
        gate.set()
        thread.join(5)
        assert waited
        assert waited[0] >= 0.15
        assert {f.result(5).status for f in first} == {"accepted"}
    finally:
        gate.set()
        service.close(timeout=1)


def test_an_ambiguous_failure_is_retried_and_stores_once(fleet: Fleet) -> None:
    device, token = fleet.device()
    real = fleet.app.save_telemetry
    failures = [1]

    def flaky(streams: Any, meta: Any) -> Any:
        result = real(streams, meta)
        if failures:  # committed, but the caller is told it failed (an ambiguous outcome)
            failures.pop()
            raise RuntimeError("timeout")
        return result

    fleet.app.save_telemetry = flaky  # type: ignore[method-assign]
    service = IngestService(fleet.handler, flush_interval=0.001)
    service.start()
    try:
        results = service.ingest([Submission(message(device, "a"), "http", token)], timeout=10)
    finally:
        service.close(timeout=1)
    assert [r.status for r in results] == ["accepted"]  # stored by the "failed" attempt
    assert service.failed_commits == 1  # the retry found it stored: nothing left to save
    assert fleet.stored_entries("acme", device) == ["a"]


def during_an_outage(fleet: Fleet) -> IngestService:
    """A started service whose store fails every commit (retried every 50 ms at most)."""

    def down(streams: Any, meta: Any) -> Any:
        raise RuntimeError("store down")

    fleet.app.save_telemetry = down  # type: ignore[method-assign]
    service = IngestService(fleet.handler, flush_interval=0.001, max_retry_delay=0.05)
    service.start()
    return service


def test_closing_during_an_outage_fails_what_was_not_committed(fleet: Fleet) -> None:
    device, token = fleet.device()
    service = during_an_outage(fleet)
    [future] = service.submit([Submission(message(device, "a"), "http", token)])
    time.sleep(0.1)
    service.close(timeout=0.2)
    with pytest.raises(NotCommitted):
        future.result(1)
    assert fleet.stored_entries("acme", device) == []
    assert service.pending == 0


def test_a_store_that_fails_then_recovers_is_retried_until_committed(fleet: Fleet) -> None:
    device, token = fleet.device()
    real = fleet.app.save_telemetry
    failures = [1, 1, 1]

    def down_then_up(streams: Any, meta: Any) -> Any:
        if failures:
            failures.pop()
            raise RuntimeError("store down")
        return real(streams, meta)

    fleet.app.save_telemetry = down_then_up  # type: ignore[method-assign]
    service = IngestService(fleet.handler, flush_interval=0.001)
    service.start()
    try:
        futures = service.submit(
            [Submission(message(device, f"m{i}"), "http", token) for i in range(3)]
        )
        assert [f.result(10).status for f in futures] == ["accepted"] * 3
    finally:
        service.close(timeout=1)
    assert service.failed_commits == 3
    assert fleet.stored_entries("acme", device) == ["m0", "m1", "m2"]


def test_a_caller_giving_up_on_its_futures_does_not_stop_the_flusher(fleet: Fleet) -> None:
    device, token = fleet.device()
    service = IngestService(fleet.handler, flush_interval=0.05)
    service.start()
    try:
        abandoned = service.submit([Submission(message(device, "a"), "http", token)])
        assert abandoned[0].cancel()  # e.g. an HTTP request that timed out
        later = service.ingest([Submission(message(device, "b"), "http", token)], timeout=5)
    finally:
        service.close(timeout=1)
    assert [r.status for r in later] == ["accepted"]
    assert fleet.stored_entries("acme", device) == ["a", "b"]  # committed all the same


def test_a_message_that_cannot_be_stored_is_rejected_alone_and_ingestion_goes_on(
    fleet: Fleet,
) -> None:
    """A lone surrogate is valid JSON but cannot be encoded: only that message is refused
    (UNSTORABLE), the rest of its batch and later batches are stored, nothing retries forever."""
    bad_device, bad_token = fleet.device()
    good_device, good_token = fleet.device()
    service = IngestService(fleet.handler, max_pending=100, flush_interval=0.05)
    service.start()
    try:
        futures = service.submit(
            [
                Submission(message(bad_device, "ok-1"), "http", bad_token),
                Submission(message(bad_device, "\ud800"), "http", bad_token),
                Submission(message(good_device, "ok-2"), "http", good_token),
            ]
        )
        results = [f.result(timeout=10) for f in futures]
        assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
        assert results[1].code == "UNSTORABLE"
        later = service.ingest([Submission(message(good_device, "ok-3"), "http", good_token)])
        assert later[0].status == "accepted"
        counts = fleet.handler.counters.snapshot()
        assert counts["rejected_by_code"] == {"UNSTORABLE": 1}
    finally:
        service.close(timeout=1)


class Told:
    """Callbacks for `submit_each`: what each message was told, and when all were."""

    def __init__(self, count: int) -> None:
        self.results: list[list[Any]] = [[] for _ in range(count)]
        self.threads: set[str] = set()
        self.all_told = threading.Event()

    def callbacks(self) -> list[Any]:
        return [lambda result, k=k: self.tell(k, result) for k in range(len(self.results))]

    def tell(self, k: int, result: Any) -> None:
        self.results[k].append(result)
        self.threads.add(threading.current_thread().name)
        if all(self.results):
            self.all_told.set()


def test_submit_each_tells_each_queued_message_once_after_its_commit(
    fleet: Fleet, service: IngestService
) -> None:
    device, token = fleet.device()
    submissions = [
        Submission(message(device, "a"), "mqtt", token),
        Submission(b"nope", "mqtt"),
        Submission(message(device, "b"), "mqtt", token),
    ]
    told = Told(3)
    refused = service.submit_each(submissions, told.callbacks())
    assert refused[0] is None  # queued
    assert refused[2] is None
    assert refused[1] is not None  # answered at once
    assert refused[1].code == "INVALID_TELEMETRY"
    deadline = time.monotonic() + 5
    while not (told.results[0] and told.results[2]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [[r.status for r in rs] for rs in told.results] == [["accepted"], [], ["accepted"]]
    assert told.threads == {"ingest-flusher"}
    assert fleet.stored_entries("acme", device) == ["a", "b"]


def test_submit_each_tells_none_when_the_service_stops_before_the_commit(fleet: Fleet) -> None:
    device, token = fleet.device()
    service = during_an_outage(fleet)
    told = Told(2)
    service.submit_each(
        [Submission(message(device, m), "mqtt", token) for m in ("a", "b")], told.callbacks()
    )
    time.sleep(0.1)
    service.close(timeout=0.2)
    assert told.all_told.wait(2)
    assert told.results == [[None], [None]]  # not committed: MQTT leaves them unacknowledged
    assert service.pending == 0


def test_a_failing_callback_does_not_stop_the_flusher(fleet: Fleet, service: IngestService) -> None:
    device, token = fleet.device()

    def broken(result: Any) -> None:
        raise RuntimeError("the transport's bug")

    service.submit_each([Submission(message(device, "a"), "mqtt", token)], [broken])
    later = service.ingest([Submission(message(device, "b"), "mqtt", token)], timeout=5)
    assert [r.status for r in later] == ["accepted"]
    assert fleet.stored_entries("acme", device) == ["a", "b"]


class Consumer:
    """A paced consumer: applies one event of the feed every `step` seconds once started."""

    def __init__(self, step: float = 0.01) -> None:
        self.applied, self.step = 0, step
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __call__(self) -> list[int]:
        return [self.applied]

    def _run(self) -> None:
        while not self.stop.wait(self.step):
            self.applied += 1


def test_commits_wait_while_the_paced_consumers_lag_and_catch_up(fleet: Fleet) -> None:
    for _ in range(30):  # the feed's first events: 30 registrations for the consumer to apply
        fleet.device()
    device, token = fleet.device()
    consumer = Consumer(step=0.02)
    service = IngestService(fleet.handler, flush_interval=0.001, max_consumer_lag=0.05)
    service.pace_with(consumer)
    service.start()
    try:
        [first] = service.ingest([Submission(message(device, "a"), "http", token)])
        assert first.position > 60
        consumer.thread.start()  # ~1.2 s to reach the first commit, moving all along
        time.sleep(0.1)  # the first commit is now older than max_consumer_lag
        [held] = service.submit([Submission(message(device, "b"), "http", token)])
        time.sleep(0.3)
        assert not held.done()  # paced: held while the consumer catches up
        assert fleet.stored_entries("acme", device) == ["a"]
        assert held.result(5).status == "accepted"  # once it has caught up
        assert consumer.applied >= first.position
    finally:
        consumer.stop.set()
        service.close(timeout=1)
    assert service.paced_s >= 0.3


def test_consumers_that_do_not_move_are_not_waited_for(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing or stopped read model must not stop ingestion: after STALLED_AFTER_S without
    moving, the consumer is not waited for, and later commits do not wait at all."""
    monkeypatch.setattr(pacing, "STALLED_AFTER_S", 0.2)
    device, token = fleet.device()
    stalled = Consumer()  # never started: stays at 0
    service = IngestService(fleet.handler, flush_interval=0.001, max_consumer_lag=0.01)
    service.pace_with(stalled)
    service.start()
    try:
        service.ingest([Submission(message(device, "a"), "http", token)])
        time.sleep(0.05)
        started = time.monotonic()
        service.ingest([Submission(message(device, "b"), "http", token)])
        service.ingest([Submission(message(device, "c"), "http", token)])
        took = time.monotonic() - started
    finally:
        service.close(timeout=1)
    assert took < 1.0
    assert service.paced_s < 0.5
    assert fleet.stored_entries("acme", device) == ["a", "b", "c"]


def test_no_pacing_without_a_lag_bound(fleet: Fleet) -> None:
    device, token = fleet.device()
    stalled = Consumer()
    service = IngestService(fleet.handler, flush_interval=0.001, max_consumer_lag=None)
    service.pace_with(stalled)
    service.start()
    try:
        for k in range(3):
            service.ingest([Submission(message(device, f"m{k}"), "http", token)])
            time.sleep(0.02)
    finally:
        service.close(timeout=1)
    assert service.paced_s == 0.0
