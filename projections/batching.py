"""A projection worker that applies the feed in batches (docs/projections.md section 7.2).

Per-event transactions cap a projection at about one commit per fsync on SQLite (~1 ms here)
and one TransactWriteItems round trip on DynamoDB. This worker reads up to `max_batch`
notifications at a time from its position and hands the ones the projection handles to
`process_batch(envelopes, tracking)`, which commits the changed rows and the checkpoint of the
batch's last handled notification together. Under load a batch holds whatever accumulated
while the previous one was being applied; when idle it rests until the store says the feed
moved (SQLite: the file's watched notifier, for this process's commits and everybody else's;
DynamoDB: the process's head poller, looked at every `idle_poll` seconds), never past its own
next duty (`next_duty`), and stops resting at `stop` (`event_store.feed_wake`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Protocol

from eventsourcing.persistence import ApplicationRecorder, Notification, Tracking

from event_store.commit_log import CommitLog
from event_store.envelope import EnvelopeMapper, EventEnvelope
from event_store.feed_wake import FeedWake, woken_by_commits
from event_store.tracking import AlreadyTracked
from projections.runner import Projection, ProjectionWorker
from read_side.notifications import ChangeNotice

log = logging.getLogger(__name__)


class BatchProjection(Projection, Protocol):
    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]: ...


class BatchingProjectionWorker(ProjectionWorker):
    """`ProjectionWorker` with batched application (same checkpoints, `wait_for`, `stop`)."""

    projection: BatchProjection

    def __init__(
        self,
        projection: BatchProjection,
        *,
        max_batch: int = 1000,
        idle_poll: float = 0.05,
        **kwargs: object,
    ) -> None:
        super().__init__(projection, **kwargs)  # type: ignore[arg-type]
        self.max_batch = max_batch
        self.idle_poll = idle_poll
        self._wake: FeedWake | None = None  # while the thread runs
        # A projection that lists its topics (`topics`) has the store skip the others (it then
        # never reads the telemetry batches that make up most of the feed), on stores where
        # everything up to the head is visible (`visible_up_to_head`: SQLite).
        listed = tuple(getattr(projection, "topics", ()))
        skips = getattr(self.recorder, "visible_up_to_head", False)
        self.topics: tuple[str, ...] = listed if skips else ()
        # This process's latest commits (SQLite), passed over where they hold none of `topics`.
        self._commits: CommitLog | None = getattr(self.recorder, "commits", None)
        self._topic_set = frozenset(self.topics)

    def apply_batch(
        self,
        notifications: Sequence[Notification],
        decoded: dict[int, EventEnvelope] | None = None,
    ) -> None:
        """Apply (or skip) consecutive notifications and advance the position past them.
        `decoded`: envelopes by notification id, shared with other workers reading the same
        notifications (`projections.group`), filled with what this one decodes."""
        if not notifications:
            return
        handled = [n for n in notifications if self.projection.handles(n.topic)]
        if handled:
            if decoded is None:
                envelopes = [self.mapper.to_envelope(n) for n in handled]
            else:
                envelopes = [
                    decoded.get(n.id) or decoded.setdefault(n.id, self.mapper.to_envelope(n))
                    for n in handled
                ]
            tracking = Tracking(self.tracking_name, handled[-1].id)
            try:
                notices = self.projection.process_batch(envelopes, tracking)
            except AlreadyTracked as e:  # anything else: resume from the checkpoint
                notices = []  # another worker committed these positions, or will (`Fenced`)
                self.skipped(tracking, e)
            if self.publisher is not None:
                for notice in notices:
                    self._publish(notice)
        with self._moved:
            self._position = max(self._position, notifications[-1].id)
            self._moved.notify_all()

    def resume(self) -> None:
        """Go back to the checkpoint (at a (re)start, and after a failure)."""
        self._position = self.checkpoint()

    def refresh(self) -> None:
        """Before a catch-up where no thread runs the worker (a Lambda invocation, warm or
        cold): stand at the stored checkpoint, which another invocation may have moved."""
        self.resume()

    def distrust_state(self) -> None:
        """A catch-up failed part-way: the next `refresh` starts again from the checkpoint."""

    def housekeeping(self) -> None:
        """Periodic work, now (the alerting worker's tick; recording a position that batches
        which decided nothing moved); none here."""

    def housekeeping_if_due(self) -> None:
        """Periodic work between batches, when there is any (the alerting worker's ticks)."""

    def next_duty(self) -> float:
        """Seconds until `housekeeping_if_due` has something to do (an idle worker's wait
        ends then at the latest); none here."""
        return math.inf

    def stop(self, timeout: float = 5.0) -> bool:
        self._stopping.set()
        wake = self._wake
        if wake is not None:
            wake.interrupt()  # an idle worker may be resting for seconds
        return super().stop(timeout)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply the feed up to its current head; returns the number of notifications read."""
        return self.catch_up_to(self.recorder.max_notification_id() or 0, progress)

    def catch_up_to(self, head: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply the feed up to position `head` (a replay stops at a live model's checkpoint);
        returns the number of notifications read."""
        count = 0
        while self._position < head:
            before = self._position
            count += self._read(head)
            if progress is not None:
                progress(self._position, head)
            if self._position == before:  # nothing visible beyond it yet
                break
        return count

    def _read(self, head: int) -> int:
        """Read and apply one batch after the position, up to `head`; how many were read.
        With `topics`, the position then moves past what the store skipped."""
        batch = self.recorder.select_notifications(
            start=self._position,
            limit=self.max_batch,
            stop=head,
            topics=self.topics,
            inclusive_of_start=False,
        )
        self.apply_batch(batch)
        if self.topics and len(batch) < self.max_batch:
            with self._moved:  # nothing else this projection handles up to `head`
                self._position = max(self._position, head)
                self._moved.notify_all()
        return len(batch)

    def pass_unread_commits(self) -> None:
        """Move the position, with no read, over this process's latest commits of events
        that hold none of `topics` (`event_store.commit_log`): a device's rename woke every
        worker of the process, and each filtered one read the feed three times for nothing."""
        if self._commits is None or not self.topics:
            return
        passed = self._commits.passable(self._position, self._topic_set)
        if passed > self._position:
            with self._moved:
                self._position = max(self._position, passed)
                self._moved.notify_all()

    def _run(self) -> None:
        with woken_by_commits(self.recorder) as wake:
            self._wake = wake
            while not self._stopping.is_set():
                try:
                    self.resume()
                    self._follow(wake)
                except Exception as e:
                    self.last_error = e
                    log.exception("%s failed; retrying from its checkpoint", self.tracking_name)
                    self._stopping.wait(self.retry_delay)

    def _follow(self, wake: FeedWake) -> None:
        while not self._stopping.is_set():
            self.pass_unread_commits()
            if not wake.worth_reading(self._position):
                pass  # the known head is not above the position
            elif self.topics:
                head = self.recorder.max_notification_id() or 0
                if head > self._position:
                    self._read(head)
                    continue
            else:
                batch = self.recorder.select_notifications(
                    start=self._position, limit=self.max_batch, inclusive_of_start=False
                )
                if batch:
                    self.apply_batch(batch)
                    continue
            wake.rest(self.idle_poll, self.next_duty())


class StatefulProjection(BatchProjection, Protocol):
    """A process manager that keeps its state in memory, rebuilt from the feed."""

    built_to: int | None  # the checkpoint of the last rebuild; None: never built

    def rebuild(self, feed: ApplicationRecorder, mapper: EnvelopeMapper, up_to: int) -> int: ...


class RebuildingWorker(BatchingProjectionWorker):
    """A worker whose projection keeps its state in memory (the alerting and OTA process
    managers): rebuilt from the feed up to the checkpoint on every (re)start (`resume`) and
    before a catch-up that finds the state elsewhere than this worker left it (never built,
    reset, or moved by the live loop since); not after a catch-up of its own, which used to
    rebuild every watch on each call (issue 14: the ingest benchmark's stage costs)."""

    projection: StatefulProjection
    _state_at: int | None = None  # the position the projection's state stands at

    def rebuild_state(self) -> int:
        self._position = self.checkpoint()
        count = self.projection.rebuild(self.recorder, self.mapper, self._position)
        self._state_at = self._position
        return count

    def refresh(self) -> None:
        """Keep the state a warm invocation left when the stored checkpoint is not past it
        (nothing decided elsewhere since); else rebuild it from the checkpoint."""
        stored = self.checkpoint()
        if self._state_at is None or self._position != self._state_at or stored > self._state_at:
            self.resume()

    def distrust_state(self) -> None:
        self._state_at = None

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        if self.projection.built_to is None or self._state_at != self._position:
            self.rebuild_state()
        count = super().catch_up(progress)
        self._state_at = self._position
        return count
