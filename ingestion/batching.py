"""Batching: which queued messages the flusher commits together, and when.

A batch is due when `flush_devices` distinct devices (streams) are queued, or `flush_interval`
after its oldest message was queued, or at once when the buffer is stopping; it takes at most
`max_batch` messages, oldest first. While a commit runs the next batch accumulates, so under
load each device's event carries more messages. The flusher also wakes at its next heartbeat
time with nothing due (an empty batch), so the heartbeat check runs on time in the same thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from uuid import UUID

from write_side.ingestion import MessageResult, Pending

# Told a message's final result once its commit has finished; None: it was not committed.
Settle = Callable[[MessageResult | None], object]


class Item:
    """A queued message: what the handler prepared, whom to tell, and since when."""

    __slots__ = ("pending", "queued_at", "settle")

    def __init__(self, pending: Pending, settle: Settle, queued_at: float) -> None:
        self.pending, self.settle, self.queued_at = pending, settle, queued_at


class BatchQueue:
    """The queue between the producers and the one flusher thread."""

    def __init__(self, *, flush_interval: float, flush_devices: int, max_batch: int) -> None:
        self.flush_interval = flush_interval
        self.flush_devices = flush_devices
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: deque[Item] = deque()
        self._queued_streams: set[UUID] = set()
        self._stopping = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    def open(self) -> None:
        with self._cond:
            self._stopping = False

    def stop(self) -> None:
        """Make what is queued due at once; `next_batch` answers None once it is empty."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def put(self, items: Sequence[Item]) -> None:
        with self._cond:
            self._queue.extend(items)
            self._queued_streams.update(i.pending.stream_id for i in items)
            self._cond.notify_all()

    def next_batch(self, wake_at: float) -> list[Item] | None:
        """The next batch to commit, waiting until one is due; [] when `wake_at` (monotonic)
        comes first; None when stopping with nothing queued."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._queue:
                    due = self._queue[0].queued_at + self.flush_interval
                    full = len(self._queued_streams) >= self.flush_devices
                    if full or now >= due or self._stopping:
                        break
                    wait = min(due, wake_at) - now
                elif self._stopping:
                    return None
                else:
                    wait = wake_at - now
                if wait <= 0:
                    return []
                self._cond.wait(wait)
            count = min(len(self._queue), self.max_batch)
            batch = [self._queue.popleft() for _ in range(count)]
            self._queued_streams = {i.pending.stream_id for i in self._queue}
            return batch

    def drain(self) -> list[Item]:
        """Everything still queued, now no longer (the service has stopped)."""
        with self._cond:
            items, self._queue = list(self._queue), deque()
            self._queued_streams = set()
            return items
