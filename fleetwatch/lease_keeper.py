"""Holds this process's worker leases (`event_store.leases`): takes the free ones, renews the
held ones, notices the lost ones, and tells the supervisor which consumers to run.

Every `interval` seconds (a turn) it renews each lease it holds and tries to take each one it
wants and does not hold. A lease is taken only when free or expired, so after a holder is killed
its consumers move within `ttl + interval` seconds (6 + 1.5 by default). Before a taken
consumer starts, its fencing token is registered with the store (`fences`), so each checkpoint
it records requires that token. A renewal that finds another token means the lease was taken
over (this process paused longer than `ttl`): the consumer is stopped, and the stale token
stays registered, so any commit still in flight is refused (`Fenced`). A renewal that fails on
an error (the store unreachable) is tried again at the next turn; the consumer keeps running,
and its commits are fenced should another process take the lease meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from event_store.leases import Fences, Lease, LeaseStore, fences
from projections.runner import ProjectionWorker

log = logging.getLogger(__name__)


def process_owner() -> str:
    """An owner id unique to this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseTerms:
    owner: str
    ttl: float = 6.0  # a lease runs this long past its last renewal
    interval: float = 1.5  # between turns: renewals, and takings of free leases
    balance: bool = True  # take a share of the leases from busier processes


@dataclass(frozen=True)
class Leased:
    """One consumer's lease: its name in the store and where it is kept."""

    tracking_name: str
    store: LeaseStore
    fences: Fences


class LeaseKeeper:
    def __init__(
        self,
        consumers: Mapping[str, Leased],
        terms: LeaseTerms,
        on_turn: Callable[[frozenset[str]], None],
        clock: Callable[[], float] = time.time,
        grouped: frozenset[str] = frozenset(),
    ) -> None:
        self.consumers = dict(consumers)
        self.grouped = grouped  # members of worker groups: taken from others last
        self.terms = terms
        self.on_turn = on_turn  # given the consumers held after each turn
        self.clock = clock
        self.held: dict[str, Lease] = {}
        self.others: dict[str, Lease] = {}  # as last read: held by other processes
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def turn(self) -> frozenset[str]:
        """Renew, take, and tell `on_turn` what is held; returns it."""
        for name, leased in self.consumers.items():
            try:
                self._turn_one(name, leased)
            except Exception:
                log.exception("lease %s: the store did not answer; trying again", name)
        if self.terms.balance:
            try:
                self._balance()
            except Exception:
                log.exception("leases: could not balance; trying again")
        held = frozenset(self.held)
        self.on_turn(held)
        return held

    def _turn_one(self, name: str, leased: Leased) -> None:
        now = self.clock()
        lease = self.held.get(name)
        if lease is not None:
            renewed = leased.store.renew_lease(lease, self.terms.ttl, now)
            if renewed is None:
                del self.held[name]  # the stale token stays registered: late commits fail
                log.warning("lease %s lost (token %d): stopping it here", name, lease.token)
            else:
                self.held[name] = renewed
            return
        # Read first: a read costs less than a conditional write that fails (DynamoDB).
        other = leased.store.read_lease(leased.tracking_name)
        theirs = other is not None and other.owner != self.terms.owner
        if other is not None and theirs and other.expires_at >= now:
            self.others[name] = other
            return
        self.others.pop(name, None)
        taken = leased.store.acquire_lease(
            leased.tracking_name, self.terms.owner, self.terms.ttl, now
        )
        self._took(name, leased, taken, "taken")

    def _took(self, name: str, leased: Leased, taken: Lease | None, how: str) -> None:
        if taken is not None:
            leased.fences.hold(leased.tracking_name, taken.token)
            self.held[name] = taken
            self.others.pop(name, None)
            log.info("lease %s %s (token %d)", name, how, taken.token)

    def _balance(self) -> None:
        """Take one lease per turn from the busiest other process while this one holds fewer
        than its share (the consumers over the live holders, rounded up) and that one more;
        so processes told to run the same consumers split them, and the split settles
        (Kinesis Client Library style lease stealing). The taken lease's token grows: the
        other process's commits on it are fenced at once and it stops it at its next turn.
        Members of a worker group are taken last, so a group tends to stay in one process."""
        now = self.clock()
        live = {name: lease for name, lease in self.others.items() if lease.expires_at >= now}
        counts = Counter(lease.owner for lease in live.values())
        share = -(-len(self.consumers) // (len(counts) + 1))
        if not counts or len(self.held) >= share:
            return
        busiest, most = counts.most_common(1)[0]
        if most <= share:
            return
        theirs = sorted(
            (name in self.grouped, name) for name, lease in live.items() if lease.owner == busiest
        )
        name = theirs[0][1]
        leased = self.consumers[name]
        taken = leased.store.steal_lease(live[name], self.terms.owner, self.terms.ttl, now)
        self._took(name, leased, taken, f"taken from {busiest} ({most} > share {share})")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.terms.interval):
            self.turn()

    def stop(self) -> None:
        """Stop turning (the consumers are the supervisor's to stop; then `release`)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.terms.interval + 10.0)
            self._thread = None

    def release(self) -> None:
        """Give every held lease up, so another process takes them at its next turn."""
        for name, lease in list(self.held.items()):
            try:
                self.consumers[name].store.release_lease(lease)
            except Exception:
                log.exception("lease %s: could not release it; it expires by itself", name)
            del self.held[name]


def lease_of(worker: ProjectionWorker) -> Lease | None:
    """`worker`'s lease as stored (None: not held)."""
    found = leased(worker)
    return found.store.read_lease(found.tracking_name)


def leased(worker: ProjectionWorker) -> Leased:
    """Where `worker`'s lease is kept: beside its checkpoints, in their datastore."""
    store = worker.checkpoints
    datastore = getattr(store, "datastore", None)
    if datastore is None or not hasattr(store, "acquire_lease"):
        raise TypeError(f"{worker.tracking_name}: its checkpoints keep no leases ({store!r})")
    return Leased(worker.tracking_name, cast("LeaseStore", store), fences(datastore))
