"""The SQLite file's own concerns, apart from the recorders of `event_store.sqlite`.

What belongs to a database file and its connections rather than to recording events: the pool
that waits out another process's switch of a fresh file to WAL and runs per-connection pragmas
(`_Pool`, `use_pool`), the read models' datastore with its faster pragmas, the in-process
commit notifier shared by every recorder of one file (keyed by the file's real path), and the
retry of operations that meet a table lock of a shared-cache memory database. Kept apart so
the recorder module holds only recorders, their subscription and the factory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import OperationalError

from event_store.commit_log import CommitLog

T = TypeVar("T")

log = logging.getLogger(__name__)


WATCH_INTERVAL = 0.05
"""Seconds between two looks at the file's `PRAGMA data_version` by a process's watcher."""


class CommitNotifier:
    """Wakes this process's readers of one database when its feed may have moved.

    At once on this process's commits (`notify`, called by the recorders after each insert);
    for a file database, also within `WATCH_INTERVAL` of a commit by any other connection or
    process: while any listener asked to `watch`, one thread per file and process compares the
    file's `PRAGMA data_version` (a counter read from shared memory, no table read) and, when
    it changed, the feed's head (`MAX(rowid)`), and wakes everybody when the head moved. So
    the idle readers of a process cost one pragma per interval between them, not a select
    each, and the commits that are not events (checkpoints, leases) wake nobody. While the
    watcher cannot read the file, it wakes everybody every interval (the readers poll).
    """

    def __init__(self, *, memory: bool) -> None:
        self._memory = memory
        self._cond = threading.Condition()
        self._listeners: dict[threading.Event, bool] = {}  # event -> watch other connections
        self._connect: Callable[[], sqlite3.Connection] | None = None
        self._head_sql = ""
        self._thread: threading.Thread | None = None
        self._logs: dict[str, CommitLog] = {}  # events table -> this process's commits to it
        self._watched_log: CommitLog | None = None

    @property
    def watched(self) -> bool:
        """Whether every commit to the feed reaches the listeners that `watch`: an in-memory
        database (no other process can write to it) or a file this notifier can watch."""
        return self._memory or self._connect is not None

    def watch_file(self, connect: Callable[[], sqlite3.Connection], events_table: str) -> None:
        """How the watcher reads the file (set by the first recorder of a file database)."""
        with self._cond:
            if self._connect is None and not self._memory:
                self._connect = connect
                self._head_sql = f"SELECT MAX(rowid) FROM {events_table}"  # noqa: S608
                self._watched_log = self.commits(events_table)  # the head it keeps known

    def listen(self, event: threading.Event, *, watch: bool = False) -> None:
        """Set `event` on this process's commits and, with `watch`, on other connections'."""
        with self._cond:
            self._listeners[event] = watch
            if watch and self._connect is not None and self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="sqlite-feed-watch", daemon=True
                )
                self._thread.start()

    def unlisten(self, event: threading.Event) -> None:
        with self._cond:
            self._listeners.pop(event, None)
            if not any(self._listeners.values()):
                self._cond.notify_all()  # the watcher ends now rather than after its interval

    def commits(self, events_table: str) -> CommitLog:
        """This process's latest commits of events to `events_table` (`CommitLog`)."""
        with self._cond:
            log = self._logs.get(events_table)
            if log is None:
                log = self._logs[events_table] = CommitLog()
            return log

    def notify(self) -> None:
        with self._cond:
            listeners = list(self._listeners)
        for event in listeners:
            event.set()

    def _watch(self) -> None:
        connection: sqlite3.Connection | None = None
        seen: tuple[int, int | None] | None = None  # (data_version, head)
        failing = False
        try:
            while True:
                with self._cond:
                    if not any(self._listeners.values()):
                        self._thread = None
                        self._observe(None)  # nobody watches: the head is unknown again
                        return
                    connect = self._connect
                    self._cond.wait(WATCH_INTERVAL)
                assert connect is not None
                try:
                    connection = connection or connect()
                    seen, moved = _look(connection, self._head_sql, seen)
                except sqlite3.Error as e:  # keep the readers polling until the file answers
                    if not failing:
                        log.warning("Watching the feed's file failed (readers poll): %s", e)
                    if connection is not None:
                        connection.close()
                    connection, seen, moved, failing = None, None, True, True
                    self._observe(None)
                else:
                    if failing:
                        log.info("Watching the feed's file again")
                    failing = False
                    if moved:
                        self._observe(seen[1] or 0)
                if moved:
                    self.notify()
        finally:
            if connection is not None:
                connection.close()

    def _observe(self, head: int | None) -> None:
        if self._watched_log is not None:
            self._watched_log.observe(head)


def _look(
    connection: sqlite3.Connection, head_sql: str, seen: tuple[int, int | None] | None
) -> tuple[tuple[int, int | None], bool]:
    """The file's (data_version, head) and whether the head moved since `seen` (always on the
    first look: a commit between a reader's last read and the watcher's start would go unseen
    otherwise)."""
    version = int(connection.execute("PRAGMA data_version").fetchone()[0])
    if seen is not None and version == seen[0]:
        return seen, False  # nothing committed by anyone since the last look
    head = connection.execute(head_sql).fetchone()[0]
    return (version, head), seen is None or head != seen[1]


_notifiers: weakref.WeakValueDictionary[str, CommitNotifier] = weakref.WeakValueDictionary()
_notifiers_lock = threading.Lock()


def commit_notifier(datastore: es_sqlite.SQLiteDatastore) -> CommitNotifier:
    """The notifier of the datastore's database, shared by all recorders of this process."""
    key = _database_key(datastore)
    with _notifiers_lock:
        notifier = _notifiers.get(key)
        if notifier is None:
            memory = datastore.pool.is_sqlite_memory_mode
            notifier = _notifiers[key] = CommitNotifier(memory=memory)
        return notifier


def watch_feed(datastore: es_sqlite.SQLiteDatastore, events_table: str) -> None:
    """Set the datastore's notifier to watch its file for other connections' commits of
    events (nothing to set for an in-memory database: nobody else can write to it). The
    caller holds the notifier (`commit_notifier`): notifiers are kept only while held."""
    pool = datastore.pool
    if pool.is_sqlite_memory_mode:
        return

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            pool.db_name,
            uri=True,
            isolation_level=None,
            timeout=pool.lock_timeout or es_sqlite.SQLITE3_DEFAULT_LOCK_TIMEOUT,
        )

    commit_notifier(datastore).watch_file(connect, events_table)


def _database_key(datastore: es_sqlite.SQLiteDatastore) -> str:
    name = datastore.pool.db_name
    if datastore.pool.is_sqlite_memory_mode:
        if "cache=shared" in name:
            return name  # A shared-cache memory database is shared by name within the process.
        return f"{name}#{id(datastore)}"  # A private memory database belongs to its datastore.
    path = name.removeprefix("file:").split("?", 1)[0]
    return os.path.realpath(path)


# Read models can be rebuilt from the feed, so their file trades durability of the newest
# commits for speed: with WAL and synchronous=NORMAL a commit does not wait for fsync (a power
# cut may roll back the last commits, rows and checkpoint together, and the workers replay
# them); and each connection caches 16 MB of pages (SQLite's default is 2 MB), which keeps the
# B-tree pages of the devices being written in memory. The event store keeps the library's
# settings (synchronous=FULL): an acknowledged event survives a power cut.
READ_MODELS_PRAGMAS = ("PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-16384")


class ReadModelsDatastore(es_sqlite.SQLiteDatastore):
    """The datastore of the read models' SQLite file (see `READ_MODELS_PRAGMAS`)."""

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        use_pool(self, READ_MODELS_PRAGMAS)


class _Pool(es_sqlite.SQLiteConnectionPool):
    """The library's pool; a new connection waits (up to the lock timeout) when another process
    holds the lock while this one switches a fresh file to WAL (the library's first connection
    does that without a busy handler, so two processes starting at once could fail), and runs
    `pragmas` on each connection."""

    pragmas: tuple[str, ...] = ()

    def _create_connection(self) -> es_sqlite.SQLiteConnection:
        deadline = time.monotonic() + (self.lock_timeout or 5)
        while True:
            try:
                connection = super()._create_connection()
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)
        for pragma in self.pragmas:
            connection._sqlite_conn.execute(pragma)
        return connection


def waiting_out_table_locks(recorder: es_sqlite.SQLiteRecorder, operation: Callable[[], T]) -> T:
    """`operation()`, tried again while it fails on a table lock, up to the lock timeout.

    A shared-cache database ("file:...?mode=memory&cache=shared") locks tables, not the file: a
    writer meets a reader's table lock, and a reader a writer's, at once (SQLITE_LOCKED); the
    busy timeout does not apply. The failed transaction was rolled back, so trying again is
    safe. (File databases, the product's, never fail this way.)"""
    deadline = time.monotonic() + (recorder.datastore.pool.lock_timeout or 5)
    while True:
        try:
            return operation()
        except OperationalError as e:
            if "table is locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def use_pool(datastore: es_sqlite.SQLiteDatastore, pragmas: tuple[str, ...] = ()) -> None:
    """Give `datastore` a `_Pool` with the same settings (before any connection is made)."""
    old = datastore.pool
    pool = _Pool(
        db_name=old.db_name,
        lock_timeout=old.lock_timeout,
        pool_size=old.pool_size,
        max_overflow=old.max_overflow,
        pool_timeout=old.pool_timeout,
        max_age=old.max_age,
        pre_ping=old.pre_ping,
    )
    pool.pragmas = pragmas
    datastore.pool = pool
    old.close()
