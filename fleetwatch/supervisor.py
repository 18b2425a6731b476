"""Runs the feed's workers of this process: start (alone, or in the groups that share a read of
the feed), pace ingestion with them, wait for them (read-your-writes), rebuild one, stop.

Workers another process runs (`FLEETWATCH_PROJECTIONS`) are not started here; they are waited
for, and paced with, through their checkpoints in the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eventsourcing.persistence import ApplicationRecorder

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
    groups: list[WorkerGroup] = field(default_factory=list)
    _started: bool = False
    _running: set[str] = field(default_factory=set)  # the workers started in this process

    def start(self, names: Sequence[str], dispatch_poll_interval: float) -> None:
        """Start the workers `names` (empty: all of them) once; an unknown name raises
        `ValueError` before anything starts."""
        if self._started:
            return
        running = set(names or self.workers)
        unknown = running - set(self.workers)
        if unknown:
            known = ", ".join(self.workers)
            raise ValueError(f"unknown projections {sorted(unknown)}; known: {known}")
        self._running = running
        for group_names in self.worker_groups:
            members = [_batching(self.workers[n]) for n in group_names if n in running]
            if members:
                self.groups.append(WorkerGroup(members))
                self.groups[-1].start()
        grouped = {name for group_names in self.worker_groups for name in group_names}
        for name, worker in self.workers.items():
            if name in running and name not in grouped:
                worker.start()
        if self.dispatcher is not None and "notifier" in running:
            self.dispatcher.start(dispatch_poll_interval)
        self._started = True

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
        here = [w for n, w in paced if n in self._running]
        elsewhere = [w for n, w in paced if n not in self._running]

        def applied() -> list[int]:
            return [w.position for w in here] + [w.checkpoint() for w in elsewhere]

        ingest.pace_with(applied, poll=0.05 if elsewhere else 0.01)

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
        self.views[name].reset(worker.tracking_name)
        worker.rewind()
        return worker.catch_up(progress)

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for group in self.groups:
            group.stop()
        for worker in self.workers.values():
            worker.stop()


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
