"""SQLite transactions the library does not offer: `immediate_transaction`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing import sqlite as es_sqlite


class _Immediate(es_sqlite.SQLiteTransaction):
    def __enter__(self) -> es_sqlite.SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


@contextmanager
def immediate_transaction(datastore: es_sqlite.SQLiteDatastore) -> Iterator[es_sqlite.SQLiteCursor]:
    """A write transaction that takes SQLite's write lock when it begins (`BEGIN IMMEDIATE`),
    committed at the end, rolled back on an error. For a transaction that reads before it
    writes: the library's plain `BEGIN` takes a read lock first, and upgrading it while
    another connection writes fails at once with "database is locked" (SQLite does not wait
    there, to avoid a deadlock); this one waits for the other writer (the busy timeout)."""
    with (
        datastore.get_connection(commit=True) as connection,
        _Immediate(connection, commit=True) as cursor,
        cursor,
    ):
        yield cursor
