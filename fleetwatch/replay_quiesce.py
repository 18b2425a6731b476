"""`fleetwatch replay --quiesce`: the live models held still while they are read (docs/audit.md
19.6, on DynamoDB).

A DynamoDB table has no snapshot read: the replay scans a live model between two reads of its
checkpoint and scans again while the two differ (`read_side.dynamodb_snapshot`, 10 times at
most), which a model under steady load may never let it finish. Quiesced, the replay takes
the model's worker lease for the scan (`event_store.leases`): the process running the worker
has its commits refused from that moment (its fencing token is no longer the lease's), stops
the worker at its next turn, and takes the lease back within a turn of its release. The lease
is renewed while held, and released at the end, also on failure. A lease lost meanwhile
(taken back by a process) fails the replay: the scan may have seen the model move.

This holds the model still only where its workers run with leases (`FLEETWATCH_WORKER_LEASES`,
the default); without, the checkpoint reads before and after each scan still protect the
comparison.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from event_store.leases import Lease
from fleetwatch.lease_keeper import Leased, leased
from projections.runner import ProjectionWorker

log = logging.getLogger(__name__)

TAKE_ATTEMPTS = 5  # a lease renewed or taken meanwhile is read again, this many times


class QuiesceFailed(RuntimeError):
    """A live model could not be held still (its lease not taken, or lost while held)."""


def take(found: Leased, owner: str, ttl: float, now: float) -> Lease:
    """The lease of `found` for `owner`: taken when free or expired, else from its holder."""
    for _ in range(TAKE_ATTEMPTS):
        current = found.store.read_lease(found.tracking_name)
        if current is None or current.expires_at < now or current.owner == owner:
            lease = found.store.acquire_lease(found.tracking_name, owner, ttl, now)
        else:
            lease = found.store.steal_lease(current, owner, ttl, now)
        if lease is not None:
            return lease
    raise QuiesceFailed(f"{found.tracking_name}: its lease could not be taken")


@contextlib.contextmanager
def quiesced(
    workers: Sequence[ProjectionWorker],
    owner: str,
    *,
    ttl: float,
    interval: float,
    clock: Callable[[], float] = time.time,
) -> Iterator[None]:
    """The leases of `workers` held by `owner` while the block runs (see the module)."""
    held: dict[str, tuple[Leased, Lease]] = {}
    lost: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def renew() -> None:
        while not stop.wait(interval):
            with lock:
                for name, (found, lease) in list(held.items()):
                    renewed = found.store.renew_lease(lease, ttl, clock())
                    if renewed is None:
                        lost.append(name)
                        del held[name]
                    else:
                        held[name] = (found, renewed)

    renewer = threading.Thread(target=renew, name="replay-quiesce", daemon=True)
    try:
        for worker in workers:
            found = leased(worker)
            held[worker.tracking_name] = (found, take(found, owner, ttl, clock()))
        renewer.start()
        yield
        if lost:
            raise QuiesceFailed(f"lost while the models were read: {', '.join(lost)}")
    finally:
        stop.set()
        if renewer.is_alive():
            renewer.join()
        for name, (found, lease) in held.items():
            try:
                found.store.release_lease(lease)
            except Exception:  # it expires within `ttl` anyway
                log.exception("%s: the quiesce lease was not released", name)
