"""Idle readers of a SQLite feed: one watcher per file and process looks at the file for all of
them (`event_store.sqlite_files.CommitNotifier`), idle workers read nothing until events are
committed (by this process or by any other connection), and a resting worker stops at once.

Other processes' commits are made through a plain `sqlite3` connection of this process: to
SQLite's `data_version` any other connection is another writer, and it bypasses the recorders'
in-process notifier, so only the watcher can see them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment

from event_store import feed_wake, sqlite_files
from event_store.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from projections.batching import BatchingProjectionWorker
from projections.group import WorkerGroup
from tests.integration.test_dynamodb_idle_reads import Seen, idle_workers
from write_side.application import FleetApplication


class Reads:
    """Counts the feed reads (selects and head reads) made through one recorder object."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.lock = threading.Lock()
        self.count = 0
        for name in ("select_notifications", "max_notification_id"):
            setattr(recorder, name, self._counted(getattr(recorder, name)))

    def _counted(self, read: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.count += 1
            return read(*args, **kwargs)

        return counted

    def during(self, seconds: float) -> int:
        """Reads made in the next `seconds` (the interval is what is measured: this sleeps)."""
        before = self.count
        time.sleep(seconds)
        return self.count - before


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "events.sqlite3"


@pytest.fixture
def recorder(path: Path) -> Iterator[SQLiteApplicationRecorder]:
    factory = SQLiteFactory(Environment("Test", {"SQLITE_DBNAME": str(path)}))
    recorder = factory.application_recorder()
    assert isinstance(recorder, SQLiteApplicationRecorder)
    recorder.create_table()
    yield recorder
    factory.close()


def application(path: Path) -> FleetApplication:
    return FleetApplication(
        env={"PERSISTENCE_MODULE": "event_store.sqlite", "SQLITE_DBNAME": str(path)}
    )


def commit_elsewhere(path: Path, count: int = 1) -> None:
    """Events committed by another connection, which the in-process notifier never hears of."""
    with sqlite3.connect(path) as other:
        other.executemany(
            "INSERT INTO stored_events VALUES (?, 1, 't', x'7b7d')",
            [(uuid.uuid4().hex,) for _ in range(count)],
        )
    other.close()


def watchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-feed-watch"]


def test_events_committed_elsewhere_wake_a_watching_listener_other_writes_do_not(
    path: Path, recorder: SQLiteApplicationRecorder
) -> None:
    notifier = recorder.notifier
    assert notifier.watched
    woken = threading.Event()
    notifier.listen(woken, watch=True)
    try:
        assert woken.wait(1.0)  # the watcher's first look wakes (it cannot know what was read)
        woken.clear()
        with sqlite3.connect(path) as other:  # a checkpoint, a lease: not an event
            other.execute("CREATE TABLE elsewhere (n INTEGER)")
            other.execute("INSERT INTO elsewhere VALUES (1)")
        other.close()
        assert not woken.wait(0.3)
        started = time.monotonic()
        commit_elsewhere(path)
        assert woken.wait(1.0)
        latency = time.monotonic() - started
    finally:
        notifier.unlisten(woken)
    assert latency < 0.5, latency  # one look every 50 ms
    deadline = time.monotonic() + 2.0
    while watchers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watchers() == []  # the last listener gone, the watcher ends


def test_idle_workers_do_not_read_the_feed(path: Path) -> None:
    """Three workers on their own threads and two in a group, idle: no read of the feed in a
    second (they used to read it every 50 ms each), not even when the file is written to
    without events; events committed by another connection reach them all within a look."""
    app = application(path)
    recorder = app.recorder
    assert isinstance(recorder, SQLiteApplicationRecorder)
    reads = Reads(recorder)
    try:
        with idle_workers(app) as workers:
            commit_elsewhere(path)
            assert all(w.wait_for(1, timeout=5.0) for w in workers)
            time.sleep(0.2)  # each has gone back to resting after the reads that found nothing
            with sqlite3.connect(path) as other:
                other.execute("CREATE TABLE elsewhere (n INTEGER)")
            other.close()
            idle_reads = reads.during(1.0)
            started = time.monotonic()
            commit_elsewhere(path, 2)
            caught_up = [w.wait_for(3, timeout=2.0) for w in workers]
            latency = time.monotonic() - started
    finally:
        app.close()
    assert caught_up == [True] * 5
    assert idle_reads == 0
    assert latency < 1.0, latency


def test_a_resting_worker_stops_at_once(path: Path) -> None:
    """An idle worker rests up to the safety interval (5 s); `stop` ends that rest."""
    app = application(path)
    recorder, mapper = app.recorder, app.envelope_mapper
    projection = Seen("w")
    worker = BatchingProjectionWorker(
        projection, checkpoints=projection, recorder=recorder, mapper=mapper, upstream_name="t"
    )
    member = Seen("g")
    group = WorkerGroup(
        [
            BatchingProjectionWorker(
                member, checkpoints=member, recorder=recorder, mapper=mapper, upstream_name="t"
            )
        ]
    )
    worker.start()
    group.start()
    time.sleep(0.3)  # resting
    started = time.monotonic()
    stopped = [worker.stop(timeout=2.0), group.stop(timeout=2.0)]
    elapsed = time.monotonic() - started
    app.close()
    assert stopped == [True, True]
    assert elapsed < 1.0, elapsed


def test_without_a_watcher_idle_workers_poll(path: Path) -> None:
    """A file this process cannot watch (its watcher's connection fails) leaves the readers
    polling, as before there was a watcher: it wakes them at every look."""
    notifier = sqlite_files.CommitNotifier(memory=False)
    assert not notifier.watched

    def broken() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    notifier.watch_file(broken, "stored_events")
    assert notifier.watched  # it tries: the failure shows when it looks
    woken = threading.Event()
    notifier.listen(woken, watch=True)
    try:
        for _ in range(3):  # it keeps waking the readers, every look
            assert woken.wait(1.0)
            woken.clear()
    finally:
        notifier.unlisten(woken)


class OnlyA(Seen):
    """`Seen` that reads and handles topic "a" only (the store skips the others for it)."""

    topics = ("a",)

    def handles(self, topic: str) -> bool:
        return topic == "a"


def commit_here(recorder: SQLiteApplicationRecorder, topic: str, count: int = 1) -> None:
    """Events committed through a recorder of this process (its commit log hears of them)."""
    stored = [StoredEvent(uuid.uuid4(), 1, topic, b"{}") for _ in range(count)]
    recorder.insert_events(stored)


def test_a_filtering_worker_passes_this_process_commits_of_other_topics_unread(
    path: Path, recorder: SQLiteApplicationRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that reads topic "a" passes over this process's commits of "b" with no read
    (`event_store.commit_log`), reads a commit of "a", and reads another process's commit of
    "b", which this process cannot tell the topics of. A worker that reads every topic reads
    each commit once (its position then stands at the head this process knows: no second,
    empty read before it rests)."""
    monkeypatch.setattr(feed_wake, "SAFETY_READ_INTERVAL", 120.0)  # no safety read counted
    app = application(path)
    reads = Reads(app.recorder)
    mapper = app.envelope_mapper
    filtering, every = OnlyA("a"), Seen("all")
    workers = [
        BatchingProjectionWorker(
            p, checkpoints=p, recorder=app.recorder, mapper=mapper, upstream_name=app.name
        )
        for p in (filtering, every)
    ]
    try:
        for worker in workers:
            worker.start()
        commit_here(recorder, "b")
        assert all(w.wait_for(1, timeout=5.0) for w in workers)
        time.sleep(0.3)  # the watcher's first look has made the head known
        workers.pop().stop()  # the filtering worker alone from here
        before = reads.count
        for n in range(2, 12):
            commit_here(recorder, "b", 2)
            assert workers[0].wait_for(2 * n - 1, timeout=2.0)
        assert reads.count == before  # ten commits passed over, none read
        commit_here(recorder, "a")  # 22
        assert workers[0].wait_for(22, timeout=2.0)
        read_a = reads.count - before
        commit_elsewhere(path)  # 23, topic "t"
        assert workers[0].wait_for(23, timeout=2.0)
        read_theirs = reads.count - before - read_a
    finally:
        for worker in workers:
            worker.stop()
        app.close()
    assert read_a >= 1
    assert read_theirs >= 1
    assert filtering.checkpoint == 22  # it handled the "a" event, none of the others


def test_a_worker_reads_each_of_this_process_commits_once(
    path: Path, recorder: SQLiteApplicationRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_wake, "SAFETY_READ_INTERVAL", 120.0)
    app = application(path)
    reads = Reads(app.recorder)
    every = Seen("all")
    worker = BatchingProjectionWorker(
        every, checkpoints=every, recorder=app.recorder, mapper=app.envelope_mapper,
        upstream_name=app.name,
    )  # fmt: skip
    try:
        worker.start()
        commit_here(recorder, "b")
        assert worker.wait_for(1, timeout=5.0)
        time.sleep(0.3)  # the watcher's first look has made the head known
        before = reads.count
        for n in range(2, 12):
            commit_here(recorder, "b")
            assert worker.wait_for(n, timeout=2.0)
            time.sleep(0.02)
    finally:
        worker.stop()
        app.close()
    assert reads.count - before == 10  # one select each (it used to read again, finding none)
