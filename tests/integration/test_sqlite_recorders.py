"""The library's recorder test cases, run against our SQLite persistence module.

Each test gets fresh databases: files in a temporary directory, or in-memory databases where the
library's own SQLite tests use them. Plain ":memory:" gives every pooled connection its own
database, so tests that read from two threads at once (subscriptions, concurrency) use a named
shared-cache memory database instead, as the library's concurrency tests do.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import Any
from unittest import TestCase
from unittest.mock import patch
from uuid import uuid4

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    Notification,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore
from eventsourcing.tests import persistence as lib
from eventsourcing.utils import Environment

from event_store import sqlite_files
from event_store.sqlite import (
    INSERT_CHUNK,
    SQLiteApplicationRecorder,
    SQLiteFactory,
    SQLiteProcessRecorder,
    SQLiteSubscription,
    SQLiteTrackingRecorder,
)
from event_store.tracking import AlreadyTracked
from read_side.users.sqlite import SQLiteUsersView

ROOT = Path(__file__).resolve().parents[2]


class Databases(TestCase):
    """Fresh databases for each test; factories are closed and files removed afterwards."""

    database = "file"  # "file", "memory" (plain ":memory:") or "shared-memory"

    def setUp(self) -> None:
        self.threads_before = set(threading.enumerate())
        super().setUp()

    def tearDown(self) -> None:
        # Closing a datastore closes connections that other threads may still be using, which
        # crashes the interpreter (SQLite is not safe there). Some library tests leave reader
        # threads running for a moment after they return: wait for them before closing.
        super().tearDown()
        for thread in set(threading.enumerate()) - self.threads_before:
            thread.join(timeout=10)

    @cached_property
    def tmp_dir(self) -> Path:
        tmp = tempfile.TemporaryDirectory(prefix="fleetwatch-sqlite-")
        self.addCleanup(tmp.cleanup)
        return Path(tmp.name)

    def new_db_name(self) -> str:
        if self.database == "memory":
            return ":memory:"
        if self.database == "shared-memory":
            return f"file:fleetwatch-{uuid4().hex}?mode=memory&cache=shared"
        return str(self.tmp_dir / f"{uuid4().hex}.db")

    def new_factory(self, db_name: str | None = None, **env: str) -> SQLiteFactory:
        values = {"SQLITE_DBNAME": db_name or self.new_db_name(), **env}
        factory = SQLiteFactory(Environment("Test", values))
        self.addCleanup(factory.close)
        return factory


# Aggregate recorder.


class TestAggregateRecorderFile(Databases, lib.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder = self.new_factory().aggregate_recorder()
        assert type(recorder) is SQLiteAggregateRecorder
        return recorder


class TestAggregateRecorderMemory(TestAggregateRecorderFile):
    database = "memory"


# Application recorder, with subscriptions.


class ApplicationRecorderCase(
    Databases, lib.ApplicationRecorderTestCase[SQLiteApplicationRecorder]
):
    __test__ = False  # A base: its subclasses choose the database.

    def create_recorder(self) -> SQLiteApplicationRecorder:
        recorder = self.new_factory().application_recorder()
        assert isinstance(recorder, SQLiteApplicationRecorder)
        return recorder

    def insert(self, recorder: ApplicationRecorder, count: int = 1) -> list[int]:
        events = [StoredEvent(uuid4(), 1, "topic", b"{}") for _ in range(count)]
        return list(recorder.insert_events(events) or [])

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()

    def test_a_large_insert_returns_the_ids_the_feed_shows(self) -> None:
        recorder = self.create_recorder()
        self.insert(recorder, 3)
        count = 2 * INSERT_CHUNK + 7  # three statements
        events = [StoredEvent(uuid4(), v, f"t{v % 3}", b"{}") for v in range(1, count + 1)]
        ids = list(recorder.insert_events(events) or [])
        feed = recorder.select_notifications(start=4, limit=count + 10)
        assert ids == [n.id for n in feed] == list(range(4, 4 + count))
        assert [(n.originator_id, n.originator_version, n.topic) for n in feed] == [
            (e.originator_id, e.originator_version, e.topic) for e in events
        ]

    def test_a_large_insert_with_a_conflict_writes_nothing(self) -> None:
        recorder = self.create_recorder()
        taken = StoredEvent(uuid4(), 1, "t", b"{}")
        recorder.insert_events([taken])
        events = [StoredEvent(uuid4(), 1, "t", b"{}") for _ in range(INSERT_CHUNK + 5)]
        with pytest.raises(IntegrityError):
            recorder.insert_events([*events, taken])  # the conflict is in the second statement
        assert recorder.max_notification_id() == 1

    def test_subscribe_concurrent_reading_and_writing(self) -> None:
        recorder = self.create_recorder()
        num_batches, batch_size = 20, 50
        received: list[int] = []

        def read() -> None:
            with recorder.subscribe(gt=None) as subscription:
                for notification in subscription:
                    received.append(notification.id)
                    if len(received) == num_batches * batch_size:
                        break

        reader = threading.Thread(target=read)
        reader.start()
        written: list[int] = []
        for _ in range(num_batches):
            written += self.insert(recorder, batch_size)
        reader.join(timeout=10)
        assert not reader.is_alive()
        assert received == written
        assert received == list(range(1, num_batches * batch_size + 1))

    def test_subscribe_wakes_on_insert_without_waiting_for_the_poll(self) -> None:
        recorder = self.create_recorder()
        latencies: list[float] = []
        with (
            patch.object(sqlite_files, "WATCH_INTERVAL", 3.0),  # Only the notifier is left.
            recorder.subscribe(gt=recorder.max_notification_id()) as subscription,
        ):
            for _ in range(5):
                time.sleep(0.02)  # Let the pull thread go back to waiting.
                started = time.monotonic()
                self.insert(recorder)
                next(subscription)
                latencies.append(time.monotonic() - started)
        assert max(latencies) < 1.0

    def test_subscribers_share_the_notifier_of_their_database(self) -> None:
        db_name = self.new_db_name()
        if self.database == "memory":
            db_name = f"file:fleetwatch-{uuid4().hex}?mode=memory&cache=shared"
        first = self.new_factory(db_name).application_recorder()
        second = self.new_factory(db_name).application_recorder()
        assert isinstance(first, SQLiteApplicationRecorder)
        assert isinstance(second, SQLiteApplicationRecorder)
        assert first.notifier is second.notifier
        assert first.notifier is not self.create_recorder().notifier
        with first.subscribe(gt=0) as subscription:
            ids = self.insert(second, 2)
            assert [next(subscription).id, next(subscription).id] == ids

    def test_stop_from_another_thread_ends_a_blocked_iteration(self) -> None:
        recorder = self.create_recorder()
        self.insert(recorder)
        received: list[Notification] = []
        subscription = recorder.subscribe(gt=0)

        def read() -> None:
            received.extend(subscription)

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.2)  # The reader has the first event and now blocks.
        started = time.monotonic()
        subscription.stop()
        reader.join(timeout=2)
        assert not reader.is_alive()
        assert time.monotonic() - started < 0.5
        assert [n.id for n in received] == [1]

    def test_closing_the_factory_ends_its_subscriptions(self) -> None:
        factory = self.new_factory()
        recorder = factory.application_recorder()
        self.insert(recorder)
        subscription = recorder.subscribe(gt=0)
        assert isinstance(subscription, SQLiteSubscription)
        received: list[Notification] = []
        reader = threading.Thread(target=lambda: received.extend(subscription))
        reader.start()
        time.sleep(0.1)  # The reader has the first event and now blocks.
        factory.close()
        assert not subscription._pull_thread.is_alive()  # Ended before connections closed.
        reader.join(timeout=2)
        assert not reader.is_alive()
        assert [n.id for n in received] == [1]

    def test_subscribe_with_topics(self) -> None:
        recorder = self.create_recorder()
        recorder.insert_events(
            [StoredEvent(uuid4(), 1, topic, b"{}") for topic in ("a", "b", "a", "c")]
        )
        with recorder.subscribe(gt=None, topics=["a", "c"]) as subscription:
            ids = [next(subscription).id for _ in range(3)]
        assert ids == [1, 3, 4]


class TestApplicationRecorderFile(ApplicationRecorderCase):
    __test__ = True

    def test_uses_wal_journal_mode_and_a_busy_timeout(self) -> None:
        recorder = self.create_recorder()
        pool = recorder.datastore.pool
        assert pool.is_journal_mode_wal
        with sqlite3.connect(pool.db_name) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 5000

    def test_subscribe_sees_commits_of_another_process(self) -> None:
        recorder = self.create_recorder()
        self.insert(recorder)
        script = (
            "import sys, uuid\n"
            "from eventsourcing.persistence import StoredEvent\n"
            "from eventsourcing.sqlite import SQLiteDatastore\n"
            "from event_store.sqlite import SQLiteApplicationRecorder\n"
            "recorder = SQLiteApplicationRecorder(SQLiteDatastore(sys.argv[1]))\n"
            "for _ in range(3):\n"
            "    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, 't', b'{}')])\n"
        )
        with recorder.subscribe(gt=0) as subscription:
            assert next(subscription).id == 1
            subprocess.run(
                [sys.executable, "-c", script, recorder.datastore.pool.db_name],
                check=True,
                cwd=ROOT,
                timeout=30,
            )
            started = time.monotonic()
            ids = [next(subscription).id for _ in range(3)]
            assert time.monotonic() - started < 1.0
        assert ids == [2, 3, 4]


class TestApplicationRecorderMemory(ApplicationRecorderCase):
    __test__ = True

    # Readers in two threads would get two different ":memory:" databases, so only the
    # single-threaded tests use ":memory:" (as the library's tests do); the others use
    # shared-cache memory databases, like the library's concurrency tests.
    def setUp(self) -> None:
        super().setUp()
        single_threaded = {"test_insert_select", "test_performance"}
        self.database = "memory" if self._testMethodName in single_threaded else "shared-memory"


# Tracking and process recorders.


class TestTrackingRecorderFile(Databases, lib.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder = self.new_factory().tracking_recorder()
        assert type(recorder) is SQLiteTrackingRecorder
        return recorder


class TestTrackingRecorderMemory(TestTrackingRecorderFile):
    database = "memory"


class TestProcessRecorderFile(Databases, lib.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        recorder = self.new_factory().process_recorder()
        assert type(recorder) is SQLiteProcessRecorder
        return recorder


class TestProcessRecorderMemory(TestProcessRecorderFile):
    database = "memory"


class TestProcessRecorderAsApplicationRecorder(ApplicationRecorderCase):
    """The process recorder is an application recorder too: same tests, subscriptions included."""

    __test__ = True

    def create_recorder(self) -> SQLiteApplicationRecorder:
        recorder = self.new_factory().process_recorder()
        assert isinstance(recorder, SQLiteProcessRecorder)
        return recorder


# Notification ids of concurrent inserts don't interleave.


class TestNonInterleavingNotificationIDsFile(Databases, lib.NonInterleavingNotificationIDsBaseCase):
    insert_num = 10000

    def create_recorder(self) -> ApplicationRecorder:
        return self.new_factory().application_recorder()


class TestNonInterleavingNotificationIDsMemory(TestNonInterleavingNotificationIDsFile):
    database = "shared-memory"


# The factory.


class TestInfrastructureFactory(Databases, lib.InfrastructureFactoryTestCase[SQLiteFactory]):
    class TrackingRecorderSubclass(SQLiteTrackingRecorder):
        pass

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = "event_store.sqlite"
        self.env[SQLiteFactory.SQLITE_DBNAME] = self.new_db_name()
        super().setUp()

    def expected_factory_class(self) -> type[SQLiteFactory]:
        return SQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return SQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteProcessRecorder

    def test_construct_resolves_our_module(self) -> None:
        factory = InfrastructureFactory[Any].construct(self.env)
        self.addCleanup(factory.close)
        assert type(factory) is SQLiteFactory

    def test_lock_timeout_is_read_from_the_environment(self) -> None:
        factory = self.new_factory(SQLITE_LOCK_TIMEOUT="12")
        assert factory.datastore.pool.lock_timeout == 12
        recorder = factory.application_recorder()
        assert isinstance(recorder, SQLiteApplicationRecorder)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 12000


class TestInfrastructureFactoryMemory(TestInfrastructureFactory):
    database = "memory"


def test_a_tracking_recorder_created_while_another_process_creates_it_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes starting on a fresh file: both look for the tracking table before either
    created it; the later one then meets the other's migration row, and must still start."""
    path = str(tmp_path / "fresh.sqlite3")
    first = SQLiteTrackingRecorder(datastore=SQLiteDatastore(path))
    late = SQLiteTrackingRecorder(datastore=SQLiteDatastore(path))
    looked = late.max_tracking_id

    def not_there_yet(application_name: str) -> int | None:
        monkeypatch.setattr(late, "max_tracking_id", looked)  # only the first look is stale
        first.create_table()  # the other process wins the race
        raise OperationalError("no such table: tracking")

    monkeypatch.setattr(late, "max_tracking_id", not_there_yet)
    late.create_table()
    late.insert_tracking(Tracking("app", 3))
    assert first.max_tracking_id("app") == 3


@pytest.mark.parametrize("single_row", [True, False])
def test_a_tracking_id_that_does_not_advance_is_already_tracked(
    tmp_path: Path, single_row: bool
) -> None:
    """The workers skip a batch on `AlreadyTracked` only: the SQLite tracking insert raises it
    for a position recorded before (single-row tracking's guarded upsert, multi-row tracking's
    primary key), and a view's transaction writes nothing then."""
    datastore = SQLiteDatastore(str(tmp_path / "t.sqlite3"), single_row_tracking=single_row)
    view = SQLiteUsersView(datastore=datastore)
    view.create_table()
    view.insert_tracking(Tracking("app", 5))
    with pytest.raises(AlreadyTracked):
        view.insert_tracking(Tracking("app", 5))
    with pytest.raises(AlreadyTracked):
        view.save_many([], Tracking("app", 5))
    view.save_many([], Tracking("app", 6))
    assert view.max_tracking_id("app") == 6
