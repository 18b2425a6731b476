"""The bounded buffer between the transports and the telemetry command handler.

`IngestService.submit` prepares each message in the caller's thread (parse, validate,
authenticate: refusals are answered at once), then queues the valid ones, holding one slot of
`max_pending` per message until its commit has finished; when the buffer is full a producer
waits or is told `Overloaded` (`ingestion.backpressure`).

One flusher thread commits: the batches `ingestion.batching` says are due (`flush_devices`
distinct devices queued, or `flush_interval` after the oldest queued message), each after
`ingestion.pacing` has let the consumers of earlier commits catch up, through
`ingestion.commit_retry` (store failures retried with backoff, unstorable messages rejected
alone). Each message's future (or, with `submit_each`, its callback) completes only after the
transaction holding it has committed (or with its final refusal); transports acknowledge then.
On `close()`, what cannot be committed in time fails with `NotCommitted` (MQTT then leaves the
message unacknowledged, so the broker redelivers it). Between batches, the same thread runs the
heartbeat check (`ingestion.heartbeats`), so it never races this process's own commits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from functools import partial

from ingestion.backpressure import OVERLOADED, Overloaded, Slots
from ingestion.batching import BatchQueue, Item, Settle
from ingestion.commit_retry import UNSTORABLE, UNSTORABLE_ERRORS, RetryingCommitter
from ingestion.heartbeats import Heartbeats
from ingestion.pacing import Applied, Pacer
from write_side.ingestion import MessageResult, Pending, Submission, TelemetryIngestion

# Re-exported: the transports and callers import these from here. `STALLED_AFTER_S` is not
# (patch it where it is read, `ingestion.pacing`).
__all__ = [
    "OVERLOADED",
    "UNSTORABLE",
    "UNSTORABLE_ERRORS",
    "Applied",
    "IngestService",
    "NotCommitted",
    "Overloaded",
    "Settle",
]

log = logging.getLogger(__name__)


class NotCommitted(Exception):
    """The service stopped before the message could be committed; it was not acknowledged."""

    code = "NOT_COMMITTED"


class IngestService:
    """Bounded buffering, batching and acknowledgement-after-commit (see the module docstring)."""

    def __init__(
        self,
        handler: TelemetryIngestion,
        *,
        max_pending: int = 20_000,
        flush_interval: float = 0.25,
        flush_devices: int = 500,
        max_batch: int = 10_000,
        heartbeat_interval: float = 5.0,
        max_retry_delay: float = 2.0,
        max_consumer_lag: float | None = 1.0,
    ) -> None:
        self.handler = handler
        self._slots = Slots(max_pending)
        self._queue = BatchQueue(
            flush_interval=flush_interval, flush_devices=flush_devices, max_batch=max_batch
        )
        self._pacer = Pacer(max_consumer_lag)
        self._committer = RetryingCommitter(handler, max_retry_delay=max_retry_delay)
        self._heartbeats = Heartbeats(handler, heartbeat_interval)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Messages held: queued or being committed."""
        return self._slots.held

    @property
    def commits(self) -> int:
        return self._committer.commits

    @property
    def failed_commits(self) -> int:
        return self._committer.failed_commits

    @property
    def paced_s(self) -> float:
        """Time the flusher held commits for the consumers to catch up."""
        return self._pacer.paced_s

    def pace_with(self, applied: Applied, poll: float = 0.01) -> None:
        """Hold commits while the consumers reporting `applied` are more than
        `max_consumer_lag` seconds behind and moving (`ingestion.pacing`); `poll`: how often
        to ask while waiting (asking another process's consumers is a query)."""
        self._pacer.pace_with(applied, poll)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._committer.deadline = None
            self._slots.open()
            self._queue.open()
            self._thread = threading.Thread(target=self._run, name="ingest-flusher", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued (retrying for at most `timeout` s), then stop."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._committer.deadline = time.monotonic() + timeout
            self._slots.close()
            self._queue.stop()
        if thread is not None:
            thread.join(timeout + 5.0)
        self._fail_queued()

    def submit(
        self, submissions: Sequence[Submission], *, block: bool = True, timeout: float | None = None
    ) -> list[Future[MessageResult]]:
        """One future per submission, in order. Refusals are already done; the others complete
        after their commit. Raises `Overloaded` when there is no room (at once unless `block`;
        after `timeout` seconds otherwise) and then queues none of them."""
        futures: list[Future[MessageResult]] = [Future() for _ in submissions]
        outcomes = self.submit_each(
            submissions, [partial(_settle, f) for f in futures], block=block, timeout=timeout
        )
        for future, outcome in zip(futures, outcomes, strict=True):
            if outcome is not None:
                future.set_result(outcome)
        return futures

    def submit_each(
        self,
        submissions: Sequence[Submission],
        settle: Sequence[Settle],
        *,
        block: bool = True,
        timeout: float | None = None,
    ) -> list[MessageResult | None]:
        """`submit` without futures: `settle[i]` is called with the final result of
        `submissions[i]` once its commit has finished (None: not committed), from the flusher
        thread. Returns the refusals at once (None where the message was queued); they are not
        passed to `settle`. A `Future` per message costs more than the rest of its queueing
        (a `Condition` each); a transport that acknowledges from a callback (MQTT) needs none."""
        if len(settle) != len(submissions):
            raise ValueError(f"{len(settle)} callbacks for {len(submissions)} submissions")
        received_at = self.handler.clock()  # one reading of the clock for the batch
        outcomes = [self.handler.prepare(s, received_at) for s in submissions]
        now = time.monotonic()
        items = [Item(o, settle[k], now) for k, o in enumerate(outcomes) if isinstance(o, Pending)]
        if items:
            try:
                self._slots.take(len(items), block, timeout)
            except Overloaded:
                for _ in items:
                    self.handler.counters.count(MessageResult.rejected(OVERLOADED, "busy"))
                raise
            self._queue.put(items)
        return [None if isinstance(o, Pending) else o for o in outcomes]

    def ingest(
        self, submissions: Sequence[Submission], *, block: bool = True, timeout: float = 30.0
    ) -> list[MessageResult]:
        """`submit`, then wait for every result."""
        return [f.result(timeout) for f in self.submit(submissions, block=block, timeout=timeout)]

    def _run(self) -> None:
        heartbeats, queue = self._heartbeats, self._queue
        heartbeats.start()
        while True:
            batch = queue.next_batch(heartbeats.next_at)
            if batch is None:
                return
            if batch:
                self._pacer.wait(lambda: queue.stopping)
                self._flush(batch)
            heartbeats.check_if_due()

    def _flush(self, batch: list[Item]) -> None:
        settle = {id(i.pending): i.settle for i in batch}
        for group in self.handler.plan(i.pending for i in batch):
            results: list[MessageResult] | None = None
            try:
                results = self._committer.commit(group)
                if results and self._pacer.active:
                    position = max(r.position for r in results)
                    if position:
                        self._pacer.committed(position)
            except Exception:  # a bug, not the store: never kill the flusher, never ack
                log.exception("telemetry commit of %d messages failed for good", len(group))
            finally:
                for k, pending in enumerate(group):
                    _tell(settle[id(pending)], results[k] if results else None)
                self._slots.give_back(len(group))

    def _fail_queued(self) -> None:
        items = self._queue.drain()
        self._slots.give_back(len(items))
        for item in items:
            _tell(item.settle, None)


def _tell(settle: Settle, result: MessageResult | None) -> None:
    try:
        settle(result)
    except Exception:  # a transport's callback: never let it stop the flusher
        log.exception("a submitter's callback failed on a message's result")


def _settle(future: Future[MessageResult], result: MessageResult | None) -> None:
    """Complete a message's future (None: not committed). A caller may have given up on it
    (an HTTP request cancelled on timeout cancels its futures): that is not an error here."""
    if future.done():
        return
    with contextlib.suppress(InvalidStateError):
        if result is None:
            future.set_exception(NotCommitted("not committed; it was not acknowledged"))
        else:
            future.set_result(result)
