"""Runs the feed's workers of this process: start (alone, or in the groups that share a read of
the feed), pace ingestion with them, wait for them (read-your-writes), rebuild one, stop.

Workers another process runs (not in `FLEETWATCH_PROJECTIONS`, or whose lease another process
holds: `fleetwatch.lease_keeper`) are not run here; they are waited for, and paced with,
through their checkpoints in the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from eventsourcing.persistence import ApplicationRecorder

from fleetwatch.lease_keeper import LeaseKeeper, LeaseTerms, lease_of, leased
from fleetwatch.worker_units import Dispatching, Loop, Runner, Unit
from ingestion.buffer import IngestService
from notifications.dispatcher import Dispatcher
from projections.batching import BatchingProjectionWorker
from projections.group import WorkerGroup
from projections.runner import ProjectionWorker
from projections.telemetry import BATCH_TOPIC


class ResettableView(Protocol):
    """What `Supervisor.rebuild` needs of a projection's view."""

    def reset(self, application_name: str) -> None: ...


@dataclass
class Supervisor:
    feed: ApplicationRecorder  # asked for the topic at a position (`wait_for`)
    workers: dict[str, ProjectionWorker]
    views: dict[str, ResettableView]  # the rebuildable ones
    # Workers (by name) that share one thread, one read and one decode of the feed
    # (projections.group); `groups`: those started in this process
    worker_groups: list[tuple[str, ...]] = field(default_factory=list)
    dispatcher: Dispatcher | None = None  # delivers the outbox; runs where "notifier" does
    # Workers no query reads from (the audit ledger): neither waited for (read-your-writes)
    # nor paced with (ingestion); they still start, stop and report their positions.
    unawaited: frozenset[str] = frozenset()
    # Loops that run where a worker runs, by the worker's name
    companions: dict[str, list[Loop]] = field(default_factory=dict)
    # One active process per worker (None: every process that is told to runs it)
    lease_terms: LeaseTerms | None = None
    _started: bool = False
    _wanted: frozenset[str] = frozenset()  # the workers this process is told to run
    _running: set[str] = field(default_factory=set)  # the workers running here now
    _units: dict[tuple[str, ...], Unit] = field(default_factory=dict)
    _draining: list[Unit] = field(default_factory=list)  # stopped, thread not yet ended
    _units_lock: threading.RLock = field(default_factory=threading.RLock)
    _keeper: LeaseKeeper | None = None
    _dispatch_poll: float = 1.0

    @property
    def _grouped(self) -> frozenset[str]:
        """The workers that run in a worker group (with the members held here)."""
        return frozenset(name for group in self.worker_groups for name in group)

    def start(self, names: Sequence[str], dispatch_poll_interval: float) -> None:
        """Start the workers `names` (empty: all of them) once; an unknown name raises
        `ValueError` before anything starts. With `lease_terms`, only those whose leases this
        process holds run: the free ones are taken before this returns, the others when their
        holders stop or die (`fleetwatch.lease_keeper`)."""
        if self._started:
            return
        running = set(names or self.workers)
        unknown = running - set(self.workers)
        if unknown:
            known = ", ".join(self.workers)
            raise ValueError(f"unknown projections {sorted(unknown)}; known: {known}")
        self._wanted = frozenset(running)
        self._dispatch_poll = dispatch_poll_interval
        self._started = True
        if self.lease_terms is None:
            self._reconcile(self._wanted)
            return
        self._keeper = LeaseKeeper(
            {name: leased(self.workers[name]) for name in sorted(running)},
            self.lease_terms,
            self._reconcile,
            grouped=self._grouped,
        )
        self._keeper.turn()
        self._keeper.start()

    def _reconcile(self, held: frozenset[str]) -> None:
        """Run exactly the units (a group's held members, or one worker) of `held`: stop the
        others; start a unit once every thread of its workers has ended."""
        with self._units_lock:
            wanted = self._units_of(held & self._wanted)
            for key in [k for k in self._units if k not in wanted]:
                self._draining.append(self._units.pop(key))
            # never waits: the keeper's turn must go on renewing (a thread in a long batch
            # ends after it; its unit starts again at a later turn)
            self._draining = [unit for unit in self._draining if not unit.stop(timeout=0)]
            busy = {name for unit in self._draining for name in unit.names}
            for key in wanted:
                if key not in self._units and not busy.intersection(key):
                    self._units[key] = self._unit(key)
                    self._units[key].start()
            self._running = {name for key in self._units for name in key}

    def _units_of(self, names: frozenset[str]) -> set[tuple[str, ...]]:
        units: set[tuple[str, ...]] = {(name,) for name in names if name not in self._grouped}
        for group_names in self.worker_groups:
            members = tuple(n for n in group_names if n in names)
            if members:
                units.add(members)
        return units

    def _unit(self, names: tuple[str, ...]) -> Unit:
        runner: Runner
        if names[0] in self._grouped:
            runner = WorkerGroup([_batching(self.workers[n]) for n in names])
        else:
            runner = self.workers[names[0]]
        loops = [loop for name in names for loop in self.companions.get(name, ())]
        if self.dispatcher is not None and "notifier" in names:
            loops.append(Dispatching(self.dispatcher, self._dispatch_poll))
        return Unit(names, runner, loops)

    @property
    def groups(self) -> list[WorkerGroup]:
        """The worker groups running in this process now."""
        with self._units_lock:
            units = list(self._units.values())
        return [u.runner for u in units if isinstance(u.runner, WorkerGroup)]

    @property
    def running(self) -> frozenset[str]:
        """The workers running in this process now (with leases: those it holds)."""
        return frozenset(self._running)

    def pace(self, ingest: IngestService) -> None:
        """Let ingestion wait for the workers that apply telemetry batches when they fall
        behind (`ingestion.buffer`, pacing): those of this process by their positions in
        memory, those of other processes by their checkpoints (a batch moves them all)."""
        paced = [
            (n, w)
            for n, w in self.workers.items()
            if n not in self.unawaited and w.projection.handles(BATCH_TOPIC)
        ]
        if not paced:
            return

        def applied() -> list[int]:
            running = self._running
            return [w.position if n in running else w.checkpoint() for n, w in paced]

        # told to run them all (usually then holding them all): positions in memory, poll often
        here = all(n in self._wanted for n, _ in paced)
        ingest.pace_with(applied, poll=0.01 if here else 0.05)

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Block until every worker has applied the feed up to `position` (read-your-writes)."""
        if position <= 0:
            return True
        deadline = time.monotonic() + timeout
        topics: list[str] | None = None
        for name, worker in self.workers.items():
            if name in self.unawaited:
                continue
            remaining = max(0.0, deadline - time.monotonic())
            if name in self._running:  # in-memory positions move past skipped events too
                if not worker.wait_for(position, remaining):
                    return False
                continue
            # Run by another process: its checkpoint only moves on events it handles, so wait
            # only when it handles the event at `position`.
            if topics is None:
                topics = [n.topic for n in self.feed.select_notifications(position, 1)]
            if topics and not worker.projection.handles(topics[0]):
                continue
            if not _poll_checkpoint(worker, position, remaining):
                return False
        return True

    def positions(self) -> dict[str, int]:
        """Each worker's position: in memory here, its checkpoint when another process runs it
        (whichever is further)."""
        return {name: self.position(name) for name in self.workers}

    def position(self, name: str) -> int:
        """One worker's position, as `positions` reads it (one read of the store at most)."""
        worker = self.workers[name]
        return max(worker.position, worker.checkpoint())

    def rebuild(self, name: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the read model `name` and rebuild it from position zero; returns events read.
        In this thread: for a process that does not run the worker (`projections rebuild`)."""
        worker = self.workers[name]
        if self.lease_terms is None or name in self._running:
            return self._rebuild(name, progress)
        # Under the worker's lease, renewed meanwhile: no process runs it while it is rebuilt
        # (one that held it would be fenced), and none takes it before the rebuild ends.
        terms = replace(self.lease_terms, balance=False)
        keeper = LeaseKeeper({name: leased(worker)}, terms, lambda _held: None)
        if name not in keeper.turn():
            lease = lease_of(worker)
            holder = "another process" if lease is None else lease.owner
            raise LeaseHeld(f"{name} runs in {holder}: stop it there, then rebuild")
        keeper.start()
        try:
            return self._rebuild(name, progress)
        finally:
            keeper.stop()
            keeper.release()

    def _rebuild(self, name: str, progress: Callable[[int, int], None] | None) -> int:
        worker = self.workers[name]
        self.views[name].reset(worker.tracking_name)
        worker.rewind()
        return worker.catch_up(progress)

    def stop(self) -> None:
        """Stop every worker of this process, then give its leases up."""
        if self._keeper is not None:
            self._keeper.stop()
        with self._units_lock:
            self._wanted = frozenset()
        self._reconcile(frozenset())
        with self._units_lock:
            for unit in self._draining:
                unit.stop(timeout=5.0)
            self._draining = []
        # and whatever was started outside the units (a test, a tool): no-ops otherwise
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for worker in self.workers.values():
            worker.stop()
        if self._keeper is not None:
            self._keeper.release()


class LeaseHeld(RuntimeError):
    """A rebuild refused: another process runs the worker (holds its lease)."""


def _batching(worker: ProjectionWorker) -> BatchingProjectionWorker:
    if not isinstance(worker, BatchingProjectionWorker):
        raise TypeError(f"{worker.tracking_name}: a worker group takes batching workers only")
    return worker


def _poll_checkpoint(worker: ProjectionWorker, position: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while worker.checkpoint() < position:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
