"""Worker leases in a SQLite file, beside the checkpoints they guard (`event_store.leases`).

Table `worker_leases` (name, owner, token, expires_at), created by every tracking recorder of
this package with its tracking table. `fenced_tracking` is what each of them runs after it
records a checkpoint, in the same transaction: by then the transaction holds the file's write
lock, so no other process can take the lease between the check and the commit.
"""

from __future__ import annotations

import sqlite3

from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteCursor

from event_store.leases import Fenced, Lease, fences
from event_store.tracking import AlreadyTracked

TABLE = "worker_leases"

CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT PRIMARY KEY, owner TEXT NOT NULL, "
    "token INTEGER NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID"
)

# Taken when free (released: owner ''), expired, or already this owner's; the token grows by
# one on every taking. Unqualified columns in DO UPDATE are the stored row's.
_ACQUIRE = (
    f"INSERT INTO {TABLE} (name, owner, token, expires_at) VALUES (?, ?, 1, ?) "  # noqa: S608
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = token + 1, "
    "expires_at = excluded.expires_at WHERE owner = '' OR expires_at < ? OR owner = excluded.owner"
)


class SQLiteLeases(es_sqlite.SQLiteTrackingRecorder):
    """`LeaseStore` on a tracking recorder's file, and the fence on its checkpoints.

    A tracking insert that does not advance raises `AlreadyTracked` (the library raises a bare
    IntegrityError: single-row tracking's guarded upsert returns no row, multi-row tracking's
    insert breaks the primary key), so a worker can tell it from other conflicts; one that this
    process's lease no longer covers raises `Fenced`."""

    def _insert_tracking(self, c: SQLiteCursor, tracking: Tracking) -> None:
        try:
            super()._insert_tracking(c, tracking)
        except (IntegrityError, sqlite3.IntegrityError) as e:
            self.fenced_tracking(c, tracking)  # a successor's position: say it was fenced
            raise AlreadyTracked(str(e)) from e
        self.fenced_tracking(c, tracking)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), CREATE]

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> Lease | None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(_ACQUIRE, (name, owner, now + ttl, now))
            lease = _read(c, name)
        return lease if lease is not None and lease.owner == owner else None

    def steal_lease(self, lease: Lease, owner: str, ttl: float, now: float) -> Lease | None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"UPDATE {TABLE} SET owner = ?, token = token + 1, expires_at = ? "  # noqa: S608
                "WHERE name = ? AND owner = ? AND token = ?",
                (owner, now + ttl, lease.name, lease.owner, lease.token),
            )
            stolen = c.sqlite_cursor.rowcount == 1
        return Lease(lease.name, owner, lease.token + 1, now + ttl) if stolen else None

    def renew_lease(self, lease: Lease, ttl: float, now: float) -> Lease | None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"UPDATE {TABLE} SET expires_at = ? WHERE name = ? AND owner = ? AND token = ?",  # noqa: S608
                (now + ttl, lease.name, lease.owner, lease.token),
            )
            renewed = c.sqlite_cursor.rowcount == 1
        if not renewed:
            return None
        return Lease(lease.name, lease.owner, lease.token, now + ttl)

    def release_lease(self, lease: Lease) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"UPDATE {TABLE} SET owner = '', expires_at = 0 "  # noqa: S608
                "WHERE name = ? AND owner = ? AND token = ?",
                (lease.name, lease.owner, lease.token),
            )

    def read_lease(self, name: str) -> Lease | None:
        with self.datastore.transaction(commit=False) as c:
            return _read(c, name)

    def fenced_tracking(self, c: SQLiteCursor, tracking: Tracking) -> None:
        """Raise `Fenced` unless this process holds `tracking`'s consumer with the stored
        token (nothing to check when it holds no lease on it: leases off, a rebuild)."""
        token = fences(self.datastore).token(tracking.application_name)
        if token is None:
            return
        lease = _read(c, tracking.application_name)
        if lease is None or lease.token != token:
            stored = "none" if lease is None else f"{lease.token} ({lease.owner})"
            msg = f"{tracking.application_name}: lease token {token} fenced off; stored: {stored}"
            raise Fenced(msg)


def _read(c: SQLiteCursor, name: str) -> Lease | None:
    c.execute(f"SELECT owner, token, expires_at FROM {TABLE} WHERE name = ?", (name,))  # noqa: S608
    row = c.fetchone()
    if row is None or not row[0]:
        return None
    return Lease(name, str(row[0]), int(row[1]), float(row[2]))
