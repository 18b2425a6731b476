"""Worker leases with fencing tokens: one active worker per consumer (issue 14).

A consumer (a read model's worker, a process manager) may be configured in several processes;
one of them runs it at a time. Each holds a **lease** per consumer name, stored beside that
consumer's checkpoint (the same SQLite file, the same DynamoDB tracking table), with

- `owner`: the holder (a process's id, e.g. ``host:pid:random``);
- `expires_at`: wall-clock seconds; the holder renews well before it, a candidate may take the
  lease once it has passed (a killed holder's lease passes within one time to live);
- `token`: the **fencing token**, raised by one each time the lease changes hands.

Leases keep workers from duplicating work; tokens keep a worker that lost its lease (a pause
longer than the time to live: a GC, a starved machine, a partition) from writing after its
successor started. The holder registers its token in the store's `Fences`; from then on every
checkpoint it records (`_insert_tracking` on SQLite, the tracking update's condition on
DynamoDB, in the same transaction as its rows or events) also requires the stored token to be
its own, so a late commit of a fenced-off worker writes nothing and raises `Fenced`. The clocks
of the processes only decide when a lease may be taken; the tokens, not the clocks, decide
which writes are refused.

What tokens do not guard: writes that carry no checkpoint (the alerting manager's timer ticks,
the OTA timers, the notification dispatcher's claims, offline detection). Those stay correct
when duplicated (idempotent commands, conditional claims); leases only keep them from running
twice in normal operation.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Protocol

from event_store.tracking import AlreadyTracked

__all__ = ["Fenced", "Fences", "Lease", "LeaseStore", "fences"]


@dataclass(frozen=True)
class Lease:
    name: str  # the consumer's tracking name (`Fleetwatch>telemetry`)
    owner: str
    token: int
    expires_at: float  # wall-clock seconds (time.time())


class LeaseStore(Protocol):
    """The leases of the consumers whose checkpoints a store holds."""

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> Lease | None:
        """The lease `name` for `owner` until `now + ttl`, its token raised by one: taken when
        nobody holds it, its holder's has expired, or `owner` holds it already (a process
        restarted with the same instance id). None while another owner's lease runs."""

    def steal_lease(self, lease: Lease, owner: str, ttl: float, now: float) -> Lease | None:
        """`lease` (another owner's, running) taken by `owner` until `now + ttl`, its token
        raised by one; None when it is no longer as read (renewed is fine: same token)."""

    def renew_lease(self, lease: Lease, ttl: float, now: float) -> Lease | None:
        """`lease` extended to `now + ttl`; None when it is no longer held with this token
        (taken over): the holder must stop at once."""

    def release_lease(self, lease: Lease) -> None:
        """Give `lease` up (a clean stop): another process may take it at once. The token
        stays, so the next holder's is higher."""

    def read_lease(self, name: str) -> Lease | None:
        """The lease `name` as stored (None: never taken, or released: owner empty)."""


class Fenced(AlreadyTracked):
    """The checkpoint was not recorded: the consumer's lease now carries another fencing token
    (another process took it over). Nothing of the commit was written.

    A subclass of `AlreadyTracked` because the caller's reaction is the same (skip: the new
    holder applies those notifications); the supervisor stops the worker when it next fails
    to renew its lease."""


class Fences:
    """The fencing tokens this process holds, by tracking name, for one store (datastore).
    Never dropped: a token stays after its lease is lost or released, so that a commit still
    in flight is refused; the next taking replaces it."""

    def __init__(self) -> None:
        self._tokens: dict[str, int] = {}
        self._lock = threading.Lock()

    def hold(self, name: str, token: int) -> None:
        with self._lock:
            self._tokens[name] = token

    def token(self, name: str) -> int | None:
        return self._tokens.get(name)


_fences: dict[int, Fences] = {}  # by id(datastore), dropped when the datastore is
_fences_lock = threading.Lock()


def fences(datastore: object) -> Fences:
    """The `Fences` of one datastore object (every recorder built on it shares them; two
    datastores on the same file, as two processes have, do not). By identity: a datastore
    may be an unhashable dataclass."""
    key = id(datastore)
    with _fences_lock:
        found = _fences.get(key)
        if found is None:
            found = _fences[key] = Fences()
            weakref.finalize(datastore, _fences.pop, key, None)
        return found
