"""The embedded event store: the library's SQLite persistence module, plus subscriptions.

Use it with `PERSISTENCE_MODULE=event_store.sqlite` and the library's environment keys
(`SQLITE_DBNAME`, `SQLITE_LOCK_TIMEOUT`, `CREATE_TABLE`, ...).

The library's `SQLiteApplicationRecorder.subscribe` raises NotImplementedError; here it returns
a `SQLiteSubscription`, which yields every notification after `gt` in order, then new ones as
they commit. Its pull thread wakes up:

- at once when this process inserts events into the same database (an in-process notifier
  shared by every recorder of one database file), and
- within `WATCH_INTERVAL` (50 ms) when another connection or process commits events to the
  file: one watcher thread per file and process looks at `PRAGMA data_version` (one cheap
  call, no table read), and at the feed's head when that changed, for every reader of the
  process (`sqlite_files.CommitNotifier`); the projection workers wait on the same notifier.

`SQLiteFactory.close()` ends the subscriptions of its recorders before it closes the connections
(closing a connection that a pull thread is using can crash the interpreter).

SQLite notification ids are rowids. SQLite has a single writer at a time, so ids are committed in
increasing order and a rolled-back insert leaves no gap: "select everything after the last id
seen" never skips an event. (The table has no AUTOINCREMENT: were the last rows ever deleted,
their ids would be given again.) The library already puts file databases in WAL mode (readers
don't block the writer; the mode is persistent in the file) and gives every connection a busy
timeout (`SQLITE_LOCK_TIMEOUT` seconds, 5 by default), so an API process and a projection
process can share one file. Plain ":memory:" gives each pooled connection its own database: use
"file:NAME?mode=memory&cache=shared" when several threads read at once (e.g. a subscription).
The file's own concerns (pool, pragmas, commit notifier, table locks): `event_store.sqlite_files`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    Notification,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Subscription,
)
from eventsourcing.utils import strtobool

from event_store.feed_wake import SAFETY_READ_INTERVAL
from event_store.kms_keys import KMS_KEY, wrapped_if_configured
from event_store.personal_data import PersonalKeys
from event_store.sqlite_files import (
    WATCH_INTERVAL,
    commit_notifier,
    use_pool,
    waiting_out_table_locks,
    watch_feed,
)
from event_store.sqlite_leases import SQLiteLeases
from event_store.sqlite_personal_keys import KEYS_DBNAME, SQLitePersonalKeys

__all__ = [
    "Factory",
    "SQLiteApplicationRecorder",
    "SQLiteFactory",
    "SQLiteProcessRecorder",
    "SQLiteSubscription",
    "SQLiteTrackingRecorder",
]


# Events per INSERT statement: 4 parameters each, under the 999 that SQLite before 3.32 allows.
INSERT_CHUNK = 240


class _CreatedConcurrently(SQLiteLeases):
    """`create_table` that tolerates another process creating the same tables at the same time.

    The library looks for the tracking table before its create transaction and then records its
    migration row; two processes starting on a fresh file can both find no table, and the later
    one fails on the row the other committed (together with the table, in one transaction). Once
    more (within 10 s), it finds table and row and has nothing to add."""

    def create_table(self) -> None:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                super().create_table()
                return
            except (IntegrityError, OperationalError):
                # IntegrityError: the other's migration row; OperationalError: "database is
                # locked" while the other's create transaction commits (a read transaction
                # that turns into a write gets no busy wait). Look again.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)


class SQLiteTrackingRecorder(_CreatedConcurrently):
    """The library's tracking recorder, safe to create from several processes at once."""


# The running subscriptions of each datastore, which `SQLiteFactory.close()` ends first: closing
# a connection that a pull thread is using can crash the interpreter.
_subscriptions: weakref.WeakKeyDictionary[
    es_sqlite.SQLiteDatastore, weakref.WeakSet[SQLiteSubscription]
] = weakref.WeakKeyDictionary()
_subscriptions_lock = threading.Lock()


class SQLiteApplicationRecorder(es_sqlite.SQLiteApplicationRecorder):
    """The library's recorder, with `subscribe`."""

    # Rowids commit in increasing order (one writer at a time), so every notification up to
    # `max_notification_id()` is visible once that id is: a reader filtering by topic may move
    # its position to the head it read up to. (Not so on DynamoDB, where a concurrent commit's
    # items can show a gap for a moment.)
    visible_up_to_head = True

    def __init__(
        self,
        datastore: es_sqlite.SQLiteDatastore,
        events_table_name: str = "stored_events",
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.notifier = commit_notifier(datastore)
        self.commits = self.notifier.commits(events_table_name)  # read by workers (topics)
        self._insert_statements: dict[int, str] = {}

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        insert = super().insert_events
        notification_ids = waiting_out_table_locks(self, lambda: insert(stored_events, **kwargs))
        # After the commit: the transaction has ended.
        self.commits.add(notification_ids or (), (s.topic for s in stored_events))
        self.notifier.notify()
        return notification_ids

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        select = super().select_notifications
        return waiting_out_table_locks(
            self, lambda: select(start, limit, stop, topics, inclusive_of_start=inclusive_of_start)
        )

    def _insert_events(
        self, c: es_sqlite.SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
        """Insert with one statement per `INSERT_CHUNK` events, not one per event.

        Python's sqlite3 module lets go of the GIL around every step of a statement; in a busy
        process, getting it back waits out another thread's switch interval (5 ms): 1,000
        one-row steps beside a busy thread took ~800 times as long as alone, one statement of
        many rows ~10 times (`bench/gil_convoy.py`, docs/operations.md section 16). Each row gets
        one more than the largest rowid so far (SQLite's documented rule short of rowid 2**63-1),
        in VALUES order, so a statement's ids end at its `lastrowid`. (No select first: a read
        would make this a read transaction turned writer, which fails at once when another
        process committed.)"""
        ids: list[int] = []
        for start in range(0, len(stored_events), INSERT_CHUNK):
            chunk = stored_events[start : start + INSERT_CHUNK]
            params: list[Any] = []
            for s in chunk:
                originator_id = s.originator_id
                params += (
                    originator_id.hex if isinstance(originator_id, UUID) else originator_id,
                    s.originator_version,
                    s.topic,
                    s.state,
                )
            c.execute(self._insert_statement(len(chunk)), params)
            last = c.lastrowid
            first = last - len(chunk) + 1
            if ids and first != ids[-1] + 1:  # not expected: rowids given otherwise
                raise ProgrammingError(f"rowids {ids[-1]} and {first} are not consecutive")
            ids += range(first, last + 1)
        return ids

    def _insert_statement(self, rows: int) -> str:
        statement = self._insert_statements.get(rows)
        if statement is None:
            values = ",".join(["(?,?,?,?)"] * rows)
            statement = f"INSERT INTO {self.events_table_name} VALUES {values}"  # noqa: S608
            self._insert_statements[rows] = statement
        return statement

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        subscription = SQLiteSubscription(recorder=self, gt=gt, topics=topics)
        with _subscriptions_lock:
            _subscriptions.setdefault(self.datastore, weakref.WeakSet()).add(subscription)
        return subscription


class SQLiteProcessRecorder(
    _CreatedConcurrently, es_sqlite.SQLiteProcessRecorder, SQLiteApplicationRecorder
):
    """The library's process recorder, with `subscribe` (and the in-process notifier)."""


class SQLiteSubscription(ListenNotifySubscription[SQLiteApplicationRecorder]):
    """Notifications after `gt`, then new ones as they are committed, until `stop()`."""

    safety_interval = SAFETY_READ_INTERVAL
    """Seconds after which an idle subscription reads even though nothing woke it: the
    notifier wakes it on this process's commits and its file watcher on everybody else's."""

    def close(self) -> None:
        """Stops the subscription and waits for its pull thread to end."""
        self.stop()
        if self._pull_thread is not threading.current_thread():
            self._pull_thread.join()

    def _loop_on_pull(self) -> None:
        # Runs in the library's pull thread; `stop()` sets `_has_been_notified`, so it ends
        # promptly. Listening starts before the first select, so no commit is missed.
        notifier = self._recorder.notifier
        notifier.listen(self._has_been_notified, watch=True)
        timeout = self.safety_interval if notifier.watched else WATCH_INTERVAL
        try:
            self._pull()  # Already recorded events.
            while not self._has_been_stopped:
                self._has_been_notified.wait(timeout=timeout)
                if self._has_been_stopped:
                    break
                self._pull()  # Newly recorded events.
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()
        finally:
            notifier.unlisten(self._has_been_notified)


class SQLiteFactory(es_sqlite.SQLiteFactory):
    """The library's factory, constructing the recorders above (same environment keys)."""

    application_recorder_class = SQLiteApplicationRecorder
    tracking_recorder_class = SQLiteTrackingRecorder
    process_recorder_class = SQLiteProcessRecorder

    FEED_WATCH = "SQLITE_FEED_WATCH"
    """`n`: no watcher of the file for this process (`CommitNotifier`): its idle readers poll
    the feed every 50 ms, as before there was one (a fallback, and the benchmark's baseline)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        use_pool(self.datastore)
        self.notifier = commit_notifier(self.datastore)  # held: shared only while held
        if strtobool(self.env.get(self.FEED_WATCH) or "y"):
            watch_feed(self.datastore, "stored_events")
        self._keys: SQLitePersonalKeys | None = None
        self._personal: PersonalKeys | None = None

    def personal_keys(self) -> PersonalKeys:
        """The subjects' data keys (`event_store.sqlite_personal_keys`): their own file beside
        a file store, this datastore for an in-memory one; wrapped by KMS when
        `PERSONAL_KEYS_KMS_KEY` is set (`event_store.kms_keys`)."""
        if self._personal is None:
            named = self.env.get(KEYS_DBNAME)
            self._keys = SQLitePersonalKeys.beside(self.datastore, named, self.env_create_table())
            self._personal = wrapped_if_configured(self._keys, self.env.get(KMS_KEY))
        return self._personal

    def close(self) -> None:
        """Ends the subscriptions of its recorders, then closes the database connections."""
        with _subscriptions_lock:
            subscriptions = list(_subscriptions.pop(self.datastore, ()))
        for subscription in subscriptions:
            subscription.close()
        if self._keys is not None and self._keys.datastore is not self.datastore:
            self._keys.close()
        super().close()


Factory = SQLiteFactory
