"""Snapshots of a process manager's in-memory state, each with the feed position it stands at
(issue 14: the alerting process manager's watches survive a restart).

One snapshot per name, replaced by the next: `save(name, position, data)`, `latest(name)`.
A snapshot is not committed with the checkpoint: its owner takes it right after recording its
checkpoint at `position`, when every effect of the events up to `position` is stored, and on a
restart replays the events after `position` into the restored state with their effects
discarded (already stored), so a snapshot older than the checkpoint is as good as a newer one.

`SQLiteStateSnapshots`: table `state_snapshots` in the event store's file (built with
`app.factory.tracking_recorder(SQLiteStateSnapshots)`, as the OTA schedule is); one row per
name, replaced in one transaction. DynamoDB: `event_store.dynamodb.state_snapshots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from event_store.sqlite import SQLiteTrackingRecorder

TABLE = "state_snapshots"


@dataclass(frozen=True)
class StateSnapshot:
    name: str
    position: int  # the feed position the state stands at
    data: bytes


class StateSnapshots(Protocol):
    def save(self, name: str, position: int, data: bytes) -> None:
        """Store `data` as the state of `name` at `position`, replacing the previous one."""

    def latest(self, name: str) -> StateSnapshot | None:
        """The last snapshot saved of `name`; None when there is none."""


class SQLiteStateSnapshots(SQLiteTrackingRecorder):
    """`StateSnapshots` in the event store's SQLite file."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT PRIMARY KEY, "
            "position INTEGER NOT NULL, data BLOB NOT NULL) WITHOUT ROWID",
        ]

    def save(self, name: str, position: int, data: bytes) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT OR REPLACE INTO {TABLE} (name, position, data) VALUES (?, ?, ?)",  # noqa: S608
                (name, position, data),
            )

    def latest(self, name: str) -> StateSnapshot | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, data FROM {TABLE} WHERE name = ?", (name,))  # noqa: S608
            row = c.fetchone()
        return None if row is None else StateSnapshot(name, int(row[0]), bytes(row[1]))
