"""What an idle projection worker waits on, and whether a read of the feed may find anything.

Workers used to read the feed tail every `idle_poll` seconds when idle: on DynamoDB a strongly
consistent Query each time, 20 RCU/s per worker thread for nothing. On DynamoDB the process
has one poller of the feed head for all its readers (`event_store.dynamodb.poller`), which
records the highest head seen and sets every listener's event when it moves: a worker then
reads only while that head is above its position (and keeps reading while it is: the head
can be seen before its feed item), plus a slow safety read every `SAFETY_READ_INTERVAL`
seconds. On SQLite nothing changes: a read is always worth it (a local select), and the
notifier sets the event on this process's commits.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

SAFETY_READ_INTERVAL = 5.0
"""Seconds after which an idle DynamoDB worker reads the feed even though the known head says
there is nothing: a bound on the damage of a wake-up missed for a reason nobody foresaw."""


class KnownHead(Protocol):
    def behind(self, position: int) -> bool: ...


class FeedWake:
    """An event set by the store when the feed moves, and the store's known head, if any."""

    def __init__(self, head: KnownHead | None = None) -> None:
        self.event = threading.Event()
        self._head = head
        self._safety_read_at = time.monotonic() + SAFETY_READ_INTERVAL

    def worth_reading(self, position: int) -> bool:
        """Whether to read the feed after `position` now (always, without a known head)."""
        if self._head is None:
            return True
        now = time.monotonic()
        if self._head.behind(position) or now >= self._safety_read_at:
            self._safety_read_at = now + SAFETY_READ_INTERVAL
            return True
        return False

    def wait(self, timeout: float) -> bool:
        """Wait until the store sets the event (True) or `timeout` passes."""
        return self.event.wait(timeout)

    def clear(self) -> None:
        self.event.clear()
