"""Verification of the store against the ledger (docs/audit.md section 19.4). Pure: no I/O.

Events are matched by identity (stream, version), never by position alone, and each finding
names its kind: **edited** (the hash recomputed from the stored bytes differs), **deleted**
(ledgered, no longer stored), **inserted** (stored, not ledgered, where the ledger has looked),
**reordered** (outside the longest run of events whose feed order agrees with the ledger's).
The ledger itself must agree with every signed checkpoint of each tenant, and each must be
signed by a key trusted for its tenant (`audit.keys.KeyRing`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from audit.canonical import GENESIS, Meta, StoredRecord, event_hash
from audit.checkpoints import Checkpoint
from audit.keys import KeyRing
from audit.ledger_port import LedgerEntry
from audit.merkle import prefix_roots

Kind = Literal["edited", "deleted", "inserted", "reordered", "ledger"]
Identity = tuple[str, int]


@dataclass(frozen=True)
class Finding:
    kind: Kind
    stream_id: str
    version: int | None
    position: int | None
    detail: str

    def __str__(self) -> str:
        where = f"position {self.position}" if self.position is not None else "no position"
        version = "" if self.version is None else f" version {self.version}"
        return f"{self.kind}: {where}, stream {self.stream_id}{version}: {self.detail}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # ledgered events compared
    pending: int = 0  # stored after the ledger's position: not covered yet

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


@dataclass(frozen=True)
class Ledgered:
    """What the ledger holds: every tenant's log and checkpoints, and its feed position."""

    logs: Mapping[str, Sequence[LedgerEntry]]
    checkpoints: Mapping[str, Sequence[Checkpoint]]
    covered: int


def verify(
    ledger: Ledgered,
    feed: Sequence[StoredRecord],
    meta_of: Callable[[StoredRecord], Meta],
    keys: KeyRing,
    streams: Mapping[str, Sequence[StoredRecord]] | None = None,
) -> Report:
    """Compare the feed (and, where the store keeps them apart, the streams) with the ledger."""
    report = Report()
    entries = [e for log in ledger.logs.values() for e in log]
    prev = prev_hashes(entries)
    by_identity = {(e.stream_id, e.version): e for e in entries}
    stored = {(r.stream_id, r.version): r for r in feed}

    def check(record: StoredRecord, entry: LedgerEntry, copy: str) -> None:
        at_ledgered = replace(record, position=entry.position)
        key = (entry.stream_id, entry.version)
        if event_hash(at_ledgered, meta_of(record), prev[key]) != entry.hash:
            where = record.position or None
            detail = f"its hash differs from the ledger's ({copy})"
            report.findings.append(Finding("edited", entry.stream_id, entry.version, where, detail))

    for key, entry in sorted(by_identity.items(), key=lambda item: item[1].position):
        report.checked += 1
        record = stored.get(key)
        if record is None:
            gone = f"ledgered at position {entry.position}, not in the feed"
            report.findings.append(Finding("deleted", key[0], key[1], entry.position, gone))
        else:
            check(record, entry, "the feed's copy")
    for record in feed:
        key = (record.stream_id, record.version)
        if key not in by_identity:
            if record.position <= ledger.covered:
                detail = f"not in the ledger, which covers positions up to {ledger.covered}"
                report.findings.append(
                    Finding("inserted", record.stream_id, record.version, record.position, detail)
                )
            else:
                report.pending += 1
    report.findings += _reordered(feed, by_identity)
    if streams is not None:
        _check_streams(streams, by_identity, stored, report, check)
    report.findings += _check_logs(ledger, keys)
    return report


def prev_hashes(entries: Sequence[LedgerEntry]) -> dict[Identity, bytes]:
    """The chain: each ledgered event's predecessor hash in its stream, as the ledger had it."""
    prev: dict[Identity, bytes] = {}
    last: dict[str, bytes] = {}
    for e in sorted(entries, key=lambda e: (e.stream_id, e.version)):
        prev[(e.stream_id, e.version)] = last.get(e.stream_id, GENESIS)
        last[e.stream_id] = e.hash
    return prev


def _reordered(
    feed: Sequence[StoredRecord], by_identity: Mapping[Identity, LedgerEntry]
) -> list[Finding]:
    """The ledgered events outside a longest run whose ledgered positions increase in feed
    order: the fewest events whose moving explains the order found."""
    matched = [
        (r, by_identity[(r.stream_id, r.version)])
        for r in feed
        if (r.stream_id, r.version) in by_identity
    ]
    tails: list[int] = []  # smallest last ledgered position of an increasing run of each length
    tail_at: list[int] = []
    parent: list[int] = []
    for i, (_record, entry) in enumerate(matched):
        k = bisect.bisect_left(tails, entry.position)
        if k == len(tails):
            tails.append(entry.position)
            tail_at.append(i)
        else:
            tails[k] = entry.position
            tail_at[k] = i
        parent.append(tail_at[k - 1] if k else -1)
    keep: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep.add(i)
        i = parent[i]
    return [
        Finding(
            "reordered",
            entry.stream_id,
            entry.version,
            record.position,
            f"the ledger has it at position {entry.position}; the feed's order differs",
        )
        for i, (record, entry) in enumerate(matched)
        if i not in keep
    ]


def _check_streams(
    streams: Mapping[str, Sequence[StoredRecord]],
    by_identity: Mapping[Identity, LedgerEntry],
    feed: Mapping[Identity, StoredRecord],
    report: Report,
    check: Callable[[StoredRecord, LedgerEntry, str], None],
) -> None:
    """The streams' own copies: each ledgered event in its stream, with the ledgered hash."""
    in_streams = {(r.stream_id, r.version): r for records in streams.values() for r in records}
    for key, entry in by_identity.items():
        record = in_streams.get(key)
        if record is None:
            detail = f"ledgered at position {entry.position}, not in its stream"
            report.findings.append(Finding("deleted", key[0], key[1], None, detail))
        else:
            check(record, entry, "stream copy")
    for key in in_streams.keys() - by_identity.keys() - feed.keys():
        detail = "in its stream, in neither the feed nor the ledger"
        report.findings.append(Finding("inserted", key[0], key[1], None, detail))


def _check_logs(ledger: Ledgered, keys: KeyRing) -> list[Finding]:
    """Each tenant's log: contiguous, and hashing to the root of each of its checkpoints, each
    signed by a key trusted for the tenant (one pass over the log for all of them)."""
    found: list[Finding] = []
    for tenant_id, log in sorted(ledger.logs.items()):
        label = f"tenant {tenant_id!r}"
        if [e.log_index for e in log] != list(range(len(log))):
            found.append(Finding("ledger", label, None, None, "the log's indexes have gaps"))
            continue
        checkpoints = sorted(ledger.checkpoints.get(tenant_id) or (), key=lambda c: c.tree_size)
        roots = prefix_roots([e.hash for e in log], {c.tree_size for c in checkpoints})
        for checkpoint in checkpoints:
            size = checkpoint.tree_size
            wrong = keys.check(checkpoint)
            if wrong is not None:
                detail = f"checkpoint of size {size}: {wrong}"
                found.append(Finding("ledger", label, None, checkpoint.position, detail))
            if size not in roots:
                detail = f"checkpoint of size {size}; the log has {len(log)} entries"
                found.append(Finding("ledger", label, None, checkpoint.position, detail))
            elif roots[size] != checkpoint.root:
                detail = f"the log does not hash to its signed root of size {size}"
                found.append(Finding("ledger", label, None, checkpoint.position, detail))
    return found
