"""Several batching workers driven by one thread: one read and one decode of each batch.

The workers that handle telemetry batches (device status, telemetry, alerting) each read every
event of the feed. As three threads they read and decode each batch three times, and they fight
over the GIL: Python's sqlite3 module lets go of it around every row a statement reads or
writes, and taking it back waits out a busy thread's switch interval (5 ms), so a 1,000-row
read took a second beside a busy thread instead of a millisecond
(docs/operations.md section 16).

`WorkerGroup` runs them in turn in one thread. Each cycle reads the feed once from the lowest
position among them, decodes each event once (`apply_batch`'s shared `decoded`), and hands
every worker the part after its own position. Each worker keeps its own checkpoint, committed
with its own read-model writes, its own `position`, `wait_for` and `catch_up`: the group only
changes which thread calls them. A worker that fails is retried from its checkpoint after its
`retry_delay` while the others go on.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

from eventsourcing.persistence import Notification

from event_store.envelope import EventEnvelope
from event_store.feed_wake import FeedWake, woken_by_commits
from projections.batching import BatchingProjectionWorker

log = logging.getLogger(__name__)


class WorkerGroup:
    """`start()` / `stop()` for the workers together (do not also start them one by one)."""

    def __init__(
        self,
        workers: Sequence[BatchingProjectionWorker],
        *,
        max_batch: int = 1000,
        idle_poll: float = 0.05,
    ) -> None:
        if not workers:
            raise ValueError("a group needs at least one worker")
        first = workers[0]
        for worker in workers:
            if worker.recorder is not first.recorder or worker.mapper is not first.mapper:
                raise ValueError(f"{worker.tracking_name} reads another feed than the group")
        self.workers = list(workers)
        self.recorder = first.recorder
        self.max_batch = max_batch
        self.idle_poll = idle_poll
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake: FeedWake | None = None  # while the thread runs

    @property
    def names(self) -> list[str]:
        return [w.projection.name for w in self.workers]

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        name = f"projections-{'+'.join(self.names)}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread; False when it has not ended within `timeout`."""
        self._stopping.set()
        wake = self._wake
        if wake is not None:
            wake.interrupt()  # an idle group may be resting for seconds
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
        return True

    def _run(self) -> None:
        retry_at = dict.fromkeys(self.workers, 0.0)  # 0: running; else when to resume it
        resume = set(self.workers)  # to (re)start from their checkpoints
        with woken_by_commits(self.recorder) as wake:
            self._wake = wake
            while not self._stopping.is_set():
                now = time.monotonic()
                for worker in [w for w in resume if retry_at[w] <= now]:
                    if self._guard(worker, worker.resume, retry_at):
                        resume.discard(worker)
                        retry_at[worker] = 0.0
                running = [w for w in self.workers if w not in resume]
                lowest = min((w.position for w in running), default=0)
                batch = self._read(running) if wake.worth_reading(lowest) else []
                self._apply(running, batch, retry_at, resume)
                for worker in running:
                    if worker not in resume:
                        self._guard(worker, worker.housekeeping_if_due, retry_at, resume)
                if not batch:
                    wake.rest(self.idle_poll, self._next_duty(running, retry_at))

    @staticmethod
    def _next_duty(
        running: Sequence[BatchingProjectionWorker], retry_at: dict[BatchingProjectionWorker, float]
    ) -> float:
        """Seconds until a running worker's housekeeping or a failed worker's resumption."""
        now = time.monotonic()
        retries = (at - now for at in retry_at.values() if at > 0)
        return max(min((*(w.next_duty() for w in running), *retries), default=math.inf), 0.0)

    def _read(self, running: Sequence[BatchingProjectionWorker]) -> Sequence[Notification]:
        if not running:
            return []
        try:
            return self.recorder.select_notifications(
                start=min(w.position for w in running),
                limit=self.max_batch,
                inclusive_of_start=False,
            )
        except Exception:
            log.exception("workers %s could not read the feed; trying again", self.names)
            self._stopping.wait(1.0)
            return []

    def _apply(
        self,
        running: Sequence[BatchingProjectionWorker],
        batch: Sequence[Notification],
        retry_at: dict[BatchingProjectionWorker, float],
        resume: set[BatchingProjectionWorker],
    ) -> None:
        if not batch:
            return
        ids = [n.id for n in batch]
        envelopes: dict[int, EventEnvelope] = {}  # each event decoded once, for all of them
        for worker in running:
            part = batch[bisect.bisect_right(ids, worker.position) :]
            apply = functools.partial(worker.apply_batch, part, envelopes)
            self._guard(worker, apply, retry_at, resume)

    def _guard(
        self,
        worker: BatchingProjectionWorker,
        action: Callable[[], object],
        retry_at: dict[BatchingProjectionWorker, float],
        resume: set[BatchingProjectionWorker] | None = None,
    ) -> bool:
        """Run `action`; on failure, log it and resume the worker from its checkpoint later."""
        try:
            action()
        except Exception as e:
            worker.last_error = e
            log.exception("%s failed; retrying from its checkpoint", worker.tracking_name)
            retry_at[worker] = time.monotonic() + worker.retry_delay
            if resume is not None:
                resume.add(worker)
            return False
        return True
