"""The worker that runs the alerting process manager over the feed.

Apart from `projections.alerting` because it is the scheduling, not the state: it rebuilds the
process's state from the checkpoint on every (re)start, ticks time-based rules with the wall
clock only once it has caught up with the feed head it saw at start (a backlog never raises a
false absence), and moves the checkpoint past stretches that decided nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Tracking

from event_store.feed_wake import FeedWake
from projections.alerting import AlertingProcess
from projections.batching import RebuildingWorker


class AlertingWorker(RebuildingWorker):
    """Runs `AlertingProcess` over the feed; rebuilds its state from the checkpoint on every
    (re)start, ticks it, and moves the checkpoint past quiet stretches."""

    projection: AlertingProcess

    def __init__(
        self,
        process: AlertingProcess,
        *,
        tick_interval: float = 1.0,
        record_interval: float = 0.1,
        snapshot_interval: float = 300.0,
        clock: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(process, checkpoints=process.recorder, **kwargs)
        self.tick_interval = tick_interval
        # How often the checkpoint follows batches that decided nothing (no alert events to
        # commit it with): processes that wait on it (`System.wait_for` of an API process, the
        # benchmark) then see them applied within this, not within a tick.
        self.record_interval = record_interval
        self._recorded_at = time.monotonic()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._ticking_from: int | None = None  # ticks start once the position reaches it
        self._housekept_at = time.monotonic()
        # How often the state is snapshotted with the checkpoint (0: never); a restart then
        # reads the events after the snapshot, not the feed from its start.
        self.snapshot_interval = snapshot_interval
        self._snapshot_at = time.monotonic()
        self._snapshot_position = 0

    def rebuild_state(self) -> int:
        self._ticking_from = self.recorder.max_notification_id() or 0
        return super().rebuild_state()

    def resume(self) -> None:
        self.rebuild_state()
        self._housekept_at = time.monotonic()

    def housekeeping(self) -> None:
        """A tick (once caught up), the checkpoint of quiet stretches and, when due, a
        snapshot of the state at that checkpoint."""
        if self._ticking_from is not None and self._position >= self._ticking_from:
            self.projection.tick(self.clock())
        due = time.monotonic() - self._snapshot_at >= self.snapshot_interval
        if self.snapshot_interval > 0 and due and self._position > self._snapshot_position:
            self.snapshot()  # records the checkpoint too
        else:
            self.projection.record_position(Tracking(self.tracking_name, self._position))

    def snapshot(self) -> int:
        """Record the checkpoint and snapshot the state at it; the snapshot's bytes."""
        self.projection.record_position(Tracking(self.tracking_name, self._position))
        size = self.projection.save_snapshot(self._position)
        self._snapshot_at, self._snapshot_position = time.monotonic(), self._position
        return size

    def housekeeping_if_due(self) -> None:
        now = time.monotonic()
        if now - self._housekept_at >= self.tick_interval:
            self.housekeeping()
            self._housekept_at = self._recorded_at = time.monotonic()
        elif now - self._recorded_at >= self.record_interval:
            self.projection.record_position(Tracking(self.tracking_name, self._position))
            self._recorded_at = time.monotonic()

    def next_duty(self) -> float:
        """The next tick, or the next recording of a position that batches moved."""
        now = time.monotonic()
        due = self._housekept_at + self.tick_interval - now
        if self._position > self.projection.recorded_to:
            due = min(due, self._recorded_at + self.record_interval - now)
        return max(due, 0.0)

    def _follow(self, wake: FeedWake) -> None:
        # `resume()` (in `_run`) rebuilt the state from the checkpoint.
        while not self._stopping.is_set():
            batch = (
                self.recorder.select_notifications(
                    start=self._position, limit=self.max_batch, inclusive_of_start=False
                )
                if wake.worth_reading(self._position)
                else []
            )
            if batch:
                self.apply_batch(batch)
            self.housekeeping_if_due()
            if not batch:
                wake.rest(self.idle_poll, self.next_duty())
