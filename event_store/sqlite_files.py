"""The SQLite file's own concerns, apart from the recorders of `event_store.sqlite`.

What belongs to a database file and its connections rather than to recording events: the pool
that waits out another process's switch of a fresh file to WAL and runs per-connection pragmas
(`_Pool`, `use_pool`), the read models' datastore with its faster pragmas, the in-process
commit notifier shared by every recorder of one file (keyed by the file's real path), and the
retry of operations that meet a table lock of a shared-cache memory database. Kept apart so
the recorder module holds only recorders, their subscription and the factory.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import OperationalError

T = TypeVar("T")


class CommitNotifier:
    """Wakes the subscriptions of this process when events are committed to one database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[threading.Event] = set()

    def listen(self, event: threading.Event) -> None:
        with self._lock:
            self._listeners.add(event)

    def unlisten(self, event: threading.Event) -> None:
        with self._lock:
            self._listeners.discard(event)

    def notify(self) -> None:
        with self._lock:
            for event in self._listeners:
                event.set()


_notifiers: weakref.WeakValueDictionary[str, CommitNotifier] = weakref.WeakValueDictionary()
_notifiers_lock = threading.Lock()


def commit_notifier(datastore: es_sqlite.SQLiteDatastore) -> CommitNotifier:
    """The notifier of the datastore's database, shared by all recorders of this process."""
    key = _database_key(datastore)
    with _notifiers_lock:
        notifier = _notifiers.get(key)
        if notifier is None:
            notifier = _notifiers[key] = CommitNotifier()
        return notifier


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
