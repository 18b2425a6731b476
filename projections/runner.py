"""Runs a projection over the ordered feed: subscribe from the checkpoint, apply, publish.

The checkpoint is the view's tracking record, committed with each row change, so a killed worker
resumes after the last event it committed and never applies one twice. Events the projection
does not handle are skipped without a write; `position` (in memory) still moves past them, so
`wait_for` answers for any feed position.

A commit that finds its tracking position already recorded (`AlreadyTracked`) is skipped: another
worker applied it. Any other error, a row's own condition included, leaves the position where it
was; the worker logs it (`last_error`) and resumes from its checkpoint after `retry_delay`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Notification, Tracking
from eventsourcing.utils import get_topic

from event_store.envelope import EnvelopeMapper, EventEnvelope
from event_store.leases import Fenced
from event_store.tracking import AlreadyTracked
from read_side.notifications import ChangeNotice, ChangePublisher

log = logging.getLogger(__name__)


class Projection(Protocol):
    name: str

    def handles(self, topic: str) -> bool: ...

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]: ...


def event_topics(*aggregates: type) -> list[str]:
    """The topics of the event classes declared on `aggregates` (as the store records them)."""
    return [
        get_topic(value)
        for aggregate in aggregates
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, Aggregate.Event)
    ]


class Checkpointed(Protocol):
    def max_tracking_id(self, application_name: str) -> int | None: ...


class ProjectionWorker:
    """One projection, one thread. `start()`, `stop()`, `wait_for(position)`, `catch_up()`."""

    def __init__(
        self,
        projection: Projection,
        *,
        checkpoints: Checkpointed,
        recorder: ApplicationRecorder,
        mapper: EnvelopeMapper,
        upstream_name: str,
        publisher: ChangePublisher | None = None,
        retry_delay: float = 1.0,
    ) -> None:
        self.projection = projection
        self.checkpoints = checkpoints
        self.recorder = recorder
        self.mapper = mapper
        self.tracking_name = f"{upstream_name}>{projection.name}"
        self.publisher = publisher
        self.retry_delay = retry_delay
        self._position = self.checkpoint()
        self._moved = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscription: object | None = None
        self.last_error: BaseException | None = None
        self.fenced_commits = 0  # commits refused because another process took the lease

    @property
    def position(self) -> int:
        """The feed position up to which every event has been applied or skipped."""
        return self._position

    def checkpoint(self) -> int:
        return self.checkpoints.max_tracking_id(self.tracking_name) or 0

    def rewind(self) -> None:
        """Forget how far this worker got: the next `catch_up` applies the feed from its start.
        For a rebuild, once the view has been reset; not while the worker runs (its thread
        would resume from the checkpoint the reset dropped, and race the replay)."""
        with self._moved:
            self._position = 0

    def skip_to(self, position: int) -> None:
        """Stand at `position` (never back): what lies before it was applied to this worker's
        view by another process (a replay's scratch build split between processes)."""
        with self._moved:
            self._position = max(self._position, position)
            self._moved.notify_all()

    def apply(self, notification: Notification) -> None:
        """Apply one notification (or skip it) and advance the position."""
        if self.projection.handles(notification.topic):
            envelope = self.mapper.to_envelope(notification)
            tracking = Tracking(self.tracking_name, notification.id)
            try:
                notices = self.projection.process(envelope, tracking)
            except AlreadyTracked as e:  # any other failure: `_run` resumes from the checkpoint
                notices = []  # another worker committed this position, or will (`Fenced`)
                self.skipped(tracking, e)
            if self.publisher is not None:
                for notice in notices:
                    self._publish(notice)
        with self._moved:
            self._position = max(self._position, notification.id)
            self._moved.notify_all()

    def skipped(self, tracking: Tracking, error: AlreadyTracked) -> None:
        """A commit refused by its checkpoint: applied before, or this process's lease on the
        worker was taken over (`Fenced`: counted; the supervisor stops the worker when it
        next fails to renew the lease)."""
        if isinstance(error, Fenced):
            self.fenced_commits += 1
            log.warning(
                "%s: fenced off at %d: %s", self.tracking_name, tracking.notification_id, error
            )
        else:
            log.info(
                "%s: position %d already tracked", self.tracking_name, tracking.notification_id
            )

    def _publish(self, notice: ChangeNotice) -> None:
        assert self.publisher is not None
        try:
            self.publisher.publish(notice)
        except Exception:  # the read model is committed; a lost notice is not a lost event
            log.exception("%s: could not publish a change notice", self.tracking_name)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply everything recorded so far (no thread); returns the number of notifications."""
        head = self.recorder.max_notification_id() or 0
        count = 0
        while self._position < head:
            batch = self.recorder.select_notifications(
                start=self._position, limit=500, stop=head, inclusive_of_start=False
            )
            if not batch:
                break
            for notification in batch:
                self.apply(notification)
            count += len(batch)
            if progress is not None:
                progress(self._position, head)
        return count

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{self.projection.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread; False when it has not ended within `timeout` (it ends after the
        batch it is in: `start` again only once `stop` says True)."""
        self._stopping.set()
        subscription = self._subscription
        if subscription is not None:
            subscription.stop()  # type: ignore[attr-defined]
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
            self._thread = None
        return True

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Block until every event up to `position` is applied; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._moved:
            while self._position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._moved.wait(remaining)
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._position = self.checkpoint()
                with self.recorder.subscribe(gt=self._position) as subscription:
                    self._subscription = subscription
                    if self._stopping.is_set():
                        return
                    for notification in subscription:
                        self.apply(notification)
                        if self._stopping.is_set():
                            return
            except Exception as e:
                self.last_error = e
                log.exception("%s failed; retrying from its checkpoint", self.tracking_name)
                self._stopping.wait(self.retry_delay)
            finally:
                self._subscription = None
