"""The ledger: folds the ordered feed's stored records into hash chains and per-tenant Merkle
logs, and signs checkpoints (docs/audit.md section 19.4). No I/O of its own: it reads and
commits through a `LedgerStore`; the worker that feeds it is `projections.ledger_worker`.

Each commit holds consecutive records with the tracking position of its last one, so the
chains, the logs and the checkpoint never disagree after a crash. A record at or below its
tenant's or its stream's ledgered head was ledgered before and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from eventsourcing.persistence import Tracking

from audit.canonical import GENESIS, Meta, StoredRecord, event_hash
from audit.checkpoints import Checkpoint
from audit.keys import KeyRing
from audit.ledger_port import LedgerCommit, LedgerEntry, LedgerStore, StreamHead, TenantHead
from audit.merkle import frontier_append, frontier_root
from event_store.tracking import AlreadyTracked

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        keys: KeyRing,
        meta_of: Callable[[StoredRecord], Meta],
        *,
        checkpoint_interval: float = 60.0,
        clock: Clock = _now,
    ) -> None:
        self.store = store
        self.keys = keys
        self.meta_of = meta_of
        self.checkpoint_interval = timedelta(seconds=checkpoint_interval)
        self.clock = clock

    def append(self, records: Sequence[StoredRecord], tracking_name: str) -> None:
        """Ledger consecutive records of the feed, in commits of at most the store's
        `max_actions` writes."""
        metas = [self.meta_of(record) for record in records]
        for start, end in _parts(records, metas, self.store.max_actions):
            last = records[end - 1].position
            try:
                self._commit(records[start:end], metas[start:end], Tracking(tracking_name, last))
            except AlreadyTracked:  # another worker ledgered this part first: go on after it
                log.info("%s: up to %d already ledgered", tracking_name, last)

    def _commit(
        self, records: Sequence[StoredRecord], metas: Sequence[Meta], tracking: Tracking
    ) -> None:
        streams = self.store.stream_heads({r.stream_id for r in records})
        tenants = self.store.tenant_heads({m.tenant_id for m in metas})
        commit = LedgerCommit()
        changed_streams: set[str] = set()
        changed_tenants: set[str] = set()
        for record, meta in zip(records, metas, strict=True):
            tenant = tenants.get(meta.tenant_id) or TenantHead(meta.tenant_id)
            stream = streams.get(record.stream_id)
            if record.position <= tenant.position or (
                stream is not None and record.version <= stream.version
            ):
                continue  # ledgered before
            hashed = event_hash(record, meta, GENESIS if stream is None else stream.hash)
            commit.entries.append(
                LedgerEntry(
                    meta.tenant_id,
                    tenant.size,
                    record.position,
                    record.stream_id,
                    record.version,
                    hashed,
                )
            )
            streams[record.stream_id] = StreamHead(record.stream_id, record.version, hashed)
            tenants[meta.tenant_id] = replace(
                tenant,
                size=tenant.size + 1,
                frontier=tuple(frontier_append(tenant.size, tenant.frontier, hashed)),
                position=record.position,
            )
            changed_streams.add(record.stream_id)
            changed_tenants.add(meta.tenant_id)
        now = self.clock()
        for tenant_id in sorted(changed_tenants):
            head = tenants[tenant_id]
            due = head.checkpointed_at is None or now - head.checkpointed_at >= (
                self.checkpoint_interval
            )
            if due:
                commit.checkpoints.append(self.sign(head, now))
                tenants[tenant_id] = replace(head, checkpointed_at=now)
        commit.streams = [streams[s] for s in sorted(changed_streams)]
        commit.tenants = [tenants[t] for t in sorted(changed_tenants)]
        self.store.commit(commit, tracking)

    def sign(self, head: TenantHead, when: datetime | None = None) -> Checkpoint:
        """A signed checkpoint of the tenant's log as `head` has it, by the tenant's key."""
        root = frontier_root(head.frontier)
        key = self.keys.signer(head.tenant_id)
        return key.sign(head.tenant_id, head.size, root, head.position, when or self.clock())

    def checkpoint_now(self) -> list[Checkpoint]:
        """Sign and store a checkpoint of every tenant's log as it is now (on demand). The
        tenants' heads are left to the worker (writing them here could race its commits)."""
        now = self.clock()
        heads = self.store.tenant_heads()
        signed = [self.sign(heads[tenant_id], now) for tenant_id in sorted(heads)]
        step = self.store.max_actions or len(signed) or 1
        for start in range(0, len(signed), step):
            self.store.commit(LedgerCommit(checkpoints=signed[start : start + step]), None)
        return signed


def _parts(
    records: Sequence[StoredRecord], metas: Sequence[Meta], max_actions: int | None
) -> list[tuple[int, int]]:
    """(start, end) of consecutive parts whose commits write at most `max_actions` items at
    worst: the tracking update, an entry per record, a head per stream, and per tenant a head
    and a checkpoint."""
    if max_actions is None:
        return [(0, len(records))] if records else []
    parts: list[tuple[int, int]] = []
    start, streams, tenants = 0, set[str](), set[str]()
    for i, (record, meta) in enumerate(zip(records, metas, strict=True)):
        new_streams = len(streams | {record.stream_id})
        new_tenants = len(tenants | {meta.tenant_id})
        if i > start and 1 + (i - start + 1) + new_streams + 2 * new_tenants > max_actions:
            parts.append((start, i))
            start, streams, tenants = i, set(), set()
        streams.add(record.stream_id)
        tenants.add(meta.tenant_id)
    parts.append((start, len(records)))
    return parts
