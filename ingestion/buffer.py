"""The bounded buffer between the transports and the telemetry command handler.

`IngestService.submit` prepares each message in the caller's thread (parse, validate,
authenticate: refusals are answered at once), then queues the valid ones, holding one slot of
`max_pending` per message until its commit has finished. When the buffer is full a producer
either waits (`block=True`: MQTT's network thread, so the broker stops sending; Lambda) or is told
`Overloaded` at once (HTTP answers 503 with Retry-After).

One flusher thread commits: when `flush_devices` distinct devices are queued, or `flush_interval`
after the oldest queued message. While a commit runs, the next batch accumulates, so under load
each device's event carries more messages. Each message's future (or, with `submit_each`, its
callback) completes only after the transaction holding it has committed (or with its final
refusal); transports acknowledge then.
A failed commit is retried with backoff for as long as the service runs: nothing is dropped and
nothing uncommitted is acknowledged; the full buffer pushes back on the producers meanwhile. On
`close()`, what cannot be committed in time fails with `NotCommitted` (MQTT then leaves the
message unacknowledged, so the broker redelivers it).

Pacing (`pace_with`): an ingestion path that takes more than the consumers of its messages
can apply lets them fall behind without bound. In one process it also starves them of the GIL:
at 2x the rate they keep up with, one process accepted 21k msg/s while its consumers fell to
4k/s and 40 s behind. So, before each commit, while those consumers (the read models and the
alerting policy that apply telemetry batches, in this process or others) are more than
`max_consumer_lag` seconds behind this flusher's commits and still moving, the flusher waits;
the queue fills and pushes back on the producers (MQTT stops reading, HTTP says 503), the
backlog stays with the broker and the devices instead of in the feed, and read models and
alerts stay fresh. Consumers that have not moved for `STALLED_AFTER_S` (failing, stopped, not
started) are not waited for: ingestion never stops because a read model does.

The flusher also runs the heartbeat check (devices silent too long go offline) every
`heartbeat_interval` seconds, in the same thread, so it never races this process's own commits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from functools import partial
from uuid import UUID

from eventsourcing.persistence import DataError

from event_store.dynamodb.errors import TransactionLimitError
from write_side.ingestion import MessageResult, Pending, Submission, TelemetryIngestion
from write_side.ingestion.connectivity import check_heartbeats, watch
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED, TELEMETRY_DEVICE_CAME_ONLINE

log = logging.getLogger(__name__)

OVERLOADED = "OVERLOADED"


class Overloaded(Exception):
    """The buffer is full; try again shortly (HTTP 503 + Retry-After)."""

    code = OVERLOADED


class NotCommitted(Exception):
    """The service stopped before the message could be committed; it was not acknowledged."""

    code = "NOT_COMMITTED"


# Told a message's final result once its commit has finished; None: it was not committed.
Settle = Callable[[MessageResult | None], object]
# The feed positions that the consumers to pace with have applied, one per consumer, in the
# same order every time.
Applied = Callable[[], Sequence[int]]
STALLED_AFTER_S = 2.0  # consumers not moving for this long are not waited for


class _Item:
    __slots__ = ("pending", "queued_at", "settle")

    def __init__(self, pending: Pending, settle: Settle, queued_at: float) -> None:
        self.pending, self.settle, self.queued_at = pending, settle, queued_at


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
        self.max_pending = max_pending
        self.flush_interval = flush_interval
        self.flush_devices = flush_devices
        self.max_batch = max_batch
        self.heartbeat_interval = heartbeat_interval
        self.max_retry_delay = max_retry_delay
        self.commits = 0
        self.failed_commits = 0
        self.paced_s = 0.0  # time the flusher held commits for the consumers to catch up
        self.max_consumer_lag = max_consumer_lag  # None: never pace
        self._applied: Applied | None = None
        self._pace_poll = 0.01
        self._consumers: list[tuple[int, float]] = []  # each one's last position, when it moved
        # (position, when) of this flusher's commits not yet known to be applied
        self._commits: deque[tuple[int, float]] = deque(maxlen=10_000)
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._queued_streams: set[UUID] = set()
        self._held = 0  # slots taken: queued + being committed
        self._stopping = False
        self._deadline = 0.0  # when stopping: give up retrying after this
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self._held

    def pace_with(self, applied: Applied, poll: float = 0.01) -> None:
        """Hold commits while the consumers reporting `applied` are more than
        `max_consumer_lag` seconds behind and moving (see the module docstring); `poll`: how
        often to ask while waiting (asking another process's consumers is a query)."""
        if self.max_consumer_lag is not None:
            self._applied, self._pace_poll = applied, poll

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="ingest-flusher", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued (retrying for at most `timeout` s), then stop."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
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
        items = [_Item(o, settle[k], now) for k, o in enumerate(outcomes) if isinstance(o, Pending)]
        if items:
            self._reserve(len(items), block, timeout)
            with self._cond:
                self._queue.extend(items)
                self._queued_streams.update(i.pending.stream_id for i in items)
                self._cond.notify_all()
        return [None if isinstance(o, Pending) else o for o in outcomes]

    def ingest(
        self, submissions: Sequence[Submission], *, block: bool = True, timeout: float = 30.0
    ) -> list[MessageResult]:
        """`submit`, then wait for every result."""
        return [f.result(timeout) for f in self.submit(submissions, block=block, timeout=timeout)]

    def _reserve(self, count: int, block: bool, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._held + count > self.max_pending or self._stopping:
                remaining = None if deadline is None else deadline - time.monotonic()
                too_big = count > self.max_pending
                timed_out = remaining is not None and remaining <= 0
                if self._stopping or too_big or not block or timed_out:
                    for _ in range(count):
                        self.handler.counters.count(MessageResult.rejected(OVERLOADED, "busy"))
                    raise Overloaded(f"{self._held} messages pending; retry shortly")
                self._cond.wait(remaining)
            self._held += count

    def _run(self) -> None:
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        self._watch_recent()
        while True:
            batch = self._next_batch(next_heartbeat)
            if batch is None:
                return
            if batch:
                self._pace()
                self._flush(batch)
            if time.monotonic() >= next_heartbeat:
                next_heartbeat = time.monotonic() + self.heartbeat_interval
                try:
                    check_heartbeats(self.handler)
                except Exception:
                    log.exception("heartbeat check failed; trying again next time")

    def _next_batch(self, next_heartbeat: float) -> list[_Item] | None:
        """The next batch to commit ([] when it is time for the heartbeat; None to stop)."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._queue:
                    due = self._queue[0].queued_at + self.flush_interval
                    full = len(self._queued_streams) >= self.flush_devices
                    if full or now >= due or self._stopping:
                        break
                    wait = min(due, next_heartbeat) - now
                elif self._stopping:
                    return None
                else:
                    wait = next_heartbeat - now
                if wait <= 0:
                    return []
                self._cond.wait(wait)
            count = min(len(self._queue), self.max_batch)
            batch = [self._queue.popleft() for _ in range(count)]
            self._queued_streams = {i.pending.stream_id for i in self._queue}
            return batch

    def _pace(self) -> None:
        """Wait while the paced consumers that are moving lag more than `max_consumer_lag`."""
        if self._applied is None or self.max_consumer_lag is None:
            return
        started = time.monotonic()
        while not self._stopping:
            now = time.monotonic()
            try:
                positions = self._applied()
            except Exception:  # an instrument, not the commit path: never stop ingestion
                log.exception("could not read how far the consumers are; not pacing")
                return
            if len(self._consumers) != len(positions):  # first sight: moving once it moves
                self._consumers = [(p, float("-inf")) for p in positions]
            moving = []
            for k, (position, (last, moved_at)) in enumerate(
                zip(positions, self._consumers, strict=True)
            ):
                if position != last:
                    self._consumers[k] = (position, now)
                    moving.append(position)
                elif now - moved_at < STALLED_AFTER_S:
                    moving.append(position)
            if not moving:  # caught up and idle, or stalled: nothing to wait for
                break
            applied, commits = min(moving), self._commits
            while commits and commits[0][0] <= applied:
                commits.popleft()
            if not commits or now - commits[0][1] <= self.max_consumer_lag:
                break
            time.sleep(self._pace_poll)
        self.paced_s += time.monotonic() - started

    def _flush(self, batch: list[_Item]) -> None:
        settle = {id(i.pending): i.settle for i in batch}
        for group in self.handler.plan(i.pending for i in batch):
            results: list[MessageResult] | None = None
            try:
                results = self._commit(group)
                if results and self._applied is not None:
                    position = max(r.position for r in results)
                    if position:
                        self._commits.append((position, time.monotonic()))
            except Exception:  # a bug, not the store: never kill the flusher, never ack
                log.exception("telemetry commit of %d messages failed for good", len(group))
            finally:
                for k, pending in enumerate(group):
                    _tell(settle[id(pending)], results[k] if results else None)
                with self._cond:
                    self._held -= len(group)
                    self._cond.notify_all()

    def _commit(self, group: list[Pending]) -> list[MessageResult] | None:
        """Commit one group, retrying failures of the store with backoff; None when the service
        is stopping and its deadline has passed. A failure that retrying cannot cure (the
        group cannot be stored as it is) is narrowed down by halving the group, so only the
        message(s) at fault are rejected, as UNSTORABLE, and everything else is stored."""
        delay, retried = 0.05, False
        while True:
            try:
                results = self.handler.commit(group, retried)
            except UNSTORABLE_ERRORS as e:
                self.failed_commits += 1
                return self._isolate(group, e)
            except Exception:
                self.failed_commits += 1
                log.exception("telemetry commit of %d messages failed; retrying", len(group))
                retried = True
                if self._stopping and time.monotonic() + delay > self._deadline:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
                continue
            self.commits += 1
            return results

    def _isolate(self, group: list[Pending], error: Exception) -> list[MessageResult] | None:
        if len(group) == 1:
            (pending,) = group
            message_id = pending.message.message_id
            log.error("telemetry message %r cannot be stored: %r", message_id, error)
            result = MessageResult.rejected(
                UNSTORABLE, "the message cannot be stored", message_id, pending.message.device_id
            )
            self.handler.counters.count(result)
            return [result]
        half = len(group) // 2
        first, second = self._commit(group[:half]), self._commit(group[half:])
        if first is None or second is None:
            return None
        return first + second

    def _fail_queued(self) -> None:
        with self._cond:
            items, self._queue = list(self._queue), deque()
            self._held -= len(items)
            self._cond.notify_all()
        for item in items:
            _tell(item.settle, None)

    def _watch_recent(self, notifications: int = 20_000) -> None:
        """Watch the devices active in the last `notifications` of the feed, so a device that
        fell silent while no ingestion process ran still goes offline."""
        recorder = self.handler.app.recorder
        try:
            head = recorder.max_notification_id() or 0
            found = recorder.select_notifications(
                start=max(0, head - notifications),
                limit=notifications,
                topics=[TELEMETRY_DEVICE_CAME_ONLINE.topic, TELEMETRY_BATCH_RECORDED.topic],
                inclusive_of_start=False,
            )
        except Exception:
            log.exception("could not read the feed's tail for recently active devices")
            return
        watch(self.handler, {UUID(str(n.originator_id)) for n in found})


# Failures about what is being stored (encoding, size, values), which retrying cannot cure. Any
# other failure is taken for the store's (unavailable, throttled, conflicting) and retried.
UNSTORABLE_ERRORS = (DataError, TransactionLimitError, ValueError, TypeError, RecursionError)
UNSTORABLE = "UNSTORABLE"


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
