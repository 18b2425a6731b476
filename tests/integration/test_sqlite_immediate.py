"""`event_store.sqlite_transactions.immediate_transaction` on a SQLite file shared by two
datastores (two processes, or two Lambda-like systems in one): a transaction that reads before
it writes waits for the other connection's writer, where the library's plain `BEGIN` fails at
once with "database is locked" (SQLite refuses to upgrade a read lock while another connection
writes). The dashboard's view commits this way (CI failed once on it: two projector
invocations at once)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import SQLiteDatastore

from event_store.sqlite_transactions import immediate_transaction


def datastores(tmp_path: Path) -> tuple[SQLiteDatastore, SQLiteDatastore]:
    path = str(tmp_path / "shared.sqlite3")
    first = SQLiteDatastore(path, lock_timeout=5)
    with first.transaction(commit=True) as c:
        c.execute("CREATE TABLE figures (name TEXT PRIMARY KEY, value INTEGER)")
        c.execute("INSERT INTO figures VALUES ('count', 0)")
    return first, SQLiteDatastore(path, lock_timeout=5)


def hold_the_write_lock(datastore: SQLiteDatastore, started: threading.Event) -> None:
    with datastore.transaction(commit=True) as c:
        c.execute("UPDATE figures SET value = value + 1")
        started.set()
        time.sleep(0.5)


def test_a_read_then_write_waits_for_the_other_writer_and_sees_its_commit(
    tmp_path: Path,
) -> None:
    first, second = datastores(tmp_path)
    started = threading.Event()
    other = threading.Thread(target=hold_the_write_lock, args=(first, started))
    other.start()
    assert started.wait(5)
    with immediate_transaction(second) as c:  # waits for the other commit, then reads it
        c.execute("SELECT value FROM figures")
        value = c.fetchone()[0]
        c.execute("UPDATE figures SET value = ?", (value + 10,))
    other.join()
    with second.transaction(commit=False) as c:
        c.execute("SELECT value FROM figures")
        assert c.fetchone()[0] == 11  # 1 from the other writer, then 10: nothing lost


def test_the_plain_begin_fails_at_once_where_it_would_upgrade_its_read_lock(
    tmp_path: Path,
) -> None:
    first, second = datastores(tmp_path)
    started = threading.Event()
    errors: list[BaseException] = []

    def reader_upgrading() -> None:
        try:
            with second.transaction(commit=True) as c:
                c.execute("SELECT value FROM figures")  # a read lock
                started.set()
                time.sleep(0.3)  # meanwhile the other connection takes the write lock
                c.execute("UPDATE figures SET value = 99")
        except OperationalError as e:
            errors.append(e)

    thread = threading.Thread(target=reader_upgrading)
    thread.start()
    assert started.wait(5)
    with first.transaction(commit=True) as c:
        c.execute("UPDATE figures SET value = value + 1")
        thread.join()  # the upgrade is refused while this one holds the write lock
    assert [str(e) for e in errors] == ["database is locked"]
