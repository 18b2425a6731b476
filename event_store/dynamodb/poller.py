"""One watcher of the feed head per feed and process, for every local reader of the feed.

Each subscription and idle worker used to poll on its own: a subscription read the head item
every 20-200 ms, an idle worker queried the feed tail every 50 ms, so the reads of a process
grew with its readers (all on the head item's partition, 3,000 RCU/s at most). Here one thread
per feed reads the head (one strongly consistent GetItem) while anybody listens, every 20 ms
while it moves, backing off to 200 ms when idle, and records the highest head seen; commits
made by this process record theirs at once. Every listener is woken when the known head
moves. A reader then reads the feed only while the known head is above its own position, and
keeps reading while it is: the head item and the feed item of one commit are two reads, so a
reader can see the head before the feed item; waiting for the head to move again would stall
it until the next commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

MIN_POLL_INTERVAL = 0.02
MAX_POLL_INTERVAL = 0.2
POLL_BACKOFF = 1.5

HeadReader = Callable[[], int | None]
"""Reads the feed head (one strongly consistent GetItem); None when the feed is empty."""


class HeadWatch:
    """The highest feed head this process knows of, and the events to set when it moves."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._listeners: dict[threading.Event, HeadReader | None] = {}
        self._head: int | None = None
        self._thread: threading.Thread | None = None
        self._moving = False

    @property
    def head(self) -> int | None:
        """The highest head seen (polled or committed here); None before the first."""
        return self._head

    def behind(self, position: int) -> bool:
        """Whether a reader at `position` may have something to read (or cannot know yet)."""
        head = self._head
        return head is None or head > position

    def listen(self, event: threading.Event, read_head: HeadReader | None = None) -> None:
        """Set `event` whenever the known head moves. With `read_head`, the head is polled
        (through the latest listener's reader) until the last listener leaves."""
        with self._cond:
            self._listeners[event] = read_head
            if read_head is not None and self._thread is None:
                self._thread = threading.Thread(
                    target=self._poll, name="dynamodb-feed-head-poll", daemon=True
                )
                self._thread.start()

    def unlisten(self, event: threading.Event) -> None:
        with self._cond:
            self._listeners.pop(event, None)
            if not self._listeners:
                self._cond.notify_all()  # the poller ends now rather than after its interval

    def advance(self, head: int, *, committed: bool = False) -> bool:
        """Record a head seen; if it is above the known head, wake every listener. A head
        `committed` by this process also makes the poller look again soon (the feed moves)."""
        with self._cond:
            if committed:
                self._moving = True
            if self._head is not None and head <= self._head:
                return False
            self._head = head
            listeners = list(self._listeners)
        for event in listeners:
            event.set()
        return True

    def _reader(self) -> HeadReader | None:
        readers = [r for r in self._listeners.values() if r is not None]
        return readers[-1] if readers else None

    def _poll(self) -> None:
        interval = MIN_POLL_INTERVAL
        while True:
            with self._cond:
                reader = self._reader()
                if reader is None:
                    self._thread = None
                    return
            try:
                head = reader() or 0
            except Exception as e:  # transient or not, keep polling (more slowly)
                logger.warning("Polling the feed head failed: %s", e)
                interval = MAX_POLL_INTERVAL
            else:
                if self.advance(head):
                    interval = MIN_POLL_INTERVAL
                else:
                    interval = min(interval * POLL_BACKOFF, MAX_POLL_INTERVAL)
            with self._cond:
                if self._moving:
                    self._moving, interval = False, MIN_POLL_INTERVAL
                if self._listeners:
                    self._cond.wait(interval)
