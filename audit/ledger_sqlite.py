"""The ledger on SQLite: its own file (the event store's durable settings; the ledger is not a
rebuildable read model), four tables and the tracking table, one transaction per commit.

`ledger_entries` (tenant, log index) -> position, stream, version, hash; `ledger_streams` the
chains' heads; `ledger_tenants` each log's size, frontier (its hashes concatenated), position
and last checkpoint time; `ledger_checkpoints` (tenant, tree size) -> the signed checkpoint.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor

from audit.checkpoints import Checkpoint
from audit.ledger_port import LedgerCommit, LedgerEntry, LedgerStore, StreamHead, TenantHead
from event_store.sqlite import SQLiteTrackingRecorder

HASH = 32
_TABLES = (
    "CREATE TABLE IF NOT EXISTS ledger_entries (tenant_id TEXT, log_index INTEGER, "
    "position INTEGER, stream_id TEXT, version INTEGER, hash BLOB, "
    "PRIMARY KEY (tenant_id, log_index))",
    "CREATE TABLE IF NOT EXISTS ledger_streams (stream_id TEXT PRIMARY KEY, version INTEGER, "
    "hash BLOB)",
    "CREATE TABLE IF NOT EXISTS ledger_tenants (tenant_id TEXT PRIMARY KEY, size INTEGER, "
    "frontier BLOB, position INTEGER, checkpointed_at TEXT)",
    "CREATE TABLE IF NOT EXISTS ledger_checkpoints (tenant_id TEXT, tree_size INTEGER, "
    "root BLOB, position INTEGER, issued_at TEXT, key_id TEXT, signature BLOB, "
    "PRIMARY KEY (tenant_id, tree_size))",
)


def _split(frontier: bytes) -> tuple[bytes, ...]:
    return tuple(frontier[i : i + HASH] for i in range(0, len(frontier), HASH))


class SQLiteLedger(SQLiteTrackingRecorder, LedgerStore):
    """Build with `SQLiteLedger(datastore=...)` on the ledger's own file."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_TABLES]

    def stream_heads(self, stream_ids: Collection[str]) -> dict[str, StreamHead]:
        ids = list(stream_ids)
        found: dict[str, StreamHead] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                c.execute(
                    f"SELECT stream_id, version, hash FROM ledger_streams "  # noqa: S608
                    f"WHERE stream_id IN ({marks})",
                    chunk,
                )
                for stream_id, version, hashed in c.fetchall():
                    found[stream_id] = StreamHead(stream_id, version, bytes(hashed))
        return found

    def tenant_heads(self, tenant_ids: Collection[str] | None = None) -> dict[str, TenantHead]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT tenant_id, size, frontier, position, checkpointed_at FROM ledger_tenants"
            )
            rows = c.fetchall()
        heads = {
            tenant_id: TenantHead(
                tenant_id,
                size,
                _split(bytes(frontier)),
                position,
                None if at is None else datetime.fromisoformat(at),
            )
            for tenant_id, size, frontier, position, at in rows
        }
        if tenant_ids is None:
            return heads
        return {t: heads[t] for t in tenant_ids if t in heads}

    def commit(self, commit: LedgerCommit, tracking: Tracking | None) -> None:
        with self.datastore.transaction(commit=True) as c:
            if tracking is not None:
                self._insert_tracking(c, tracking)
            self._write(c, commit)

    def _write(self, c: SQLiteCursor, commit: LedgerCommit) -> None:
        c.executemany(
            "INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?, ?)",
            [
                (e.tenant_id, e.log_index, e.position, e.stream_id, e.version, e.hash)
                for e in commit.entries
            ],
        )
        c.executemany(
            "INSERT OR REPLACE INTO ledger_streams VALUES (?, ?, ?)",
            [(s.stream_id, s.version, s.hash) for s in commit.streams],
        )
        c.executemany(
            "INSERT OR REPLACE INTO ledger_tenants VALUES (?, ?, ?, ?, ?)",
            [
                (
                    t.tenant_id,
                    t.size,
                    b"".join(t.frontier),
                    t.position,
                    None if t.checkpointed_at is None else t.checkpointed_at.isoformat(),
                )
                for t in commit.tenants
            ],
        )
        c.executemany(
            "INSERT OR IGNORE INTO ledger_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (k.tenant_id, k.tree_size, k.root, k.position, k.issued_at, k.key_id, k.signature)
                for k in commit.checkpoints
            ],
        )

    def entries(self, tenant_id: str) -> list[LedgerEntry]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT tenant_id, log_index, position, stream_id, version, hash "
                "FROM ledger_entries WHERE tenant_id = ? ORDER BY log_index",
                (tenant_id,),
            )
            rows = c.fetchall()
        return [LedgerEntry(t, i, p, s, v, bytes(h)) for t, i, p, s, v, h in rows]

    def checkpoints(self, tenant_id: str) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT tenant_id, tree_size, root, position, issued_at, key_id, signature "
                "FROM ledger_checkpoints WHERE tenant_id = ? ORDER BY tree_size",
                (tenant_id,),
            )
            rows = c.fetchall()
        return [Checkpoint(t, n, bytes(r), p, at, k, bytes(s)) for t, n, r, p, at, k, s in rows]
