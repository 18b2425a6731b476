"""The feed's head for the API's followers of the feed (the `events` subscription), awaited on
the event loop: ONE thread per recorder and process waits on the store's wake (SQLite's watched
notifier, DynamoDB's head poller: `event_store.feed_wake`), reads the head when woken, and
resolves the futures of the followers waiting for the feed to pass their position. So a
thousand idle followers hold no thread of the pool and read nothing; each reads its own page
of the feed only once the head has passed what it read.

The thread runs while any follower is open (`following`), and ends with the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import AsyncIterator

from eventsourcing.persistence import ApplicationRecorder

from event_store.feed_wake import FeedWake, woken_by_commits

log = logging.getLogger(__name__)

IDLE_POLL = 0.05  # where the store's wake does not tell of every commit (DynamoDB: no I/O)
RETRY_DELAY = 1.0  # after a failed read of the head


class FeedHeads:
    """Followers of one recorder's feed wait here for its head to pass their position."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        self._lock = threading.Lock()
        self._head = -1  # unknown until the thread has read it
        self._open = 0
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread: threading.Thread | None = None
        self._wake: FeedWake | None = None  # the thread's, while it runs

    @contextlib.asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        """While a follower is open the head is watched."""
        with self._lock:
            self._open += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="feed-heads", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._open -= 1
                if self._open == 0 and self._wake is not None:
                    self._wake.interrupt()  # the thread may be resting for seconds: it ends

    async def passed(self, position: int) -> None:
        """Return once the feed's head is above `position` (inside `following`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (position, loop, future)
        with self._lock:
            if self._head > position:
                return
            self._waiters.append(entry)
        try:
            await future
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    def _advance(self, head: int) -> None:
        with self._lock:
            self._head = max(self._head, head)
            passed = [w for w in self._waiters if w[0] < self._head]
            self._waiters = [w for w in self._waiters if w[0] >= self._head]
        for _, loop, future in passed:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_resolve, future)

    def _run(self) -> None:
        with woken_by_commits(self.recorder) as wake:
            with self._lock:
                self._wake = wake
            while True:
                with self._lock:
                    if self._open == 0:
                        self._thread, self._wake, self._head = None, None, -1
                        return
                    lowest = min((w[0] for w in self._waiters), default=self._head)
                if self._head < 0 or wake.worth_reading(lowest):
                    try:
                        self._advance(self.recorder.max_notification_id() or 0)
                    except Exception:  # the store is unreachable: followers wait, not fail
                        log.exception("Reading the feed head failed; retrying")
                        wake.rest(RETRY_DELAY, RETRY_DELAY)  # a stop or a commit ends it early
                        continue
                wake.rest(IDLE_POLL)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_heads: weakref.WeakKeyDictionary[ApplicationRecorder, FeedHeads] = weakref.WeakKeyDictionary()
_heads_lock = threading.Lock()


def feed_heads(recorder: ApplicationRecorder) -> FeedHeads:
    """The recorder's one `FeedHeads` in this process."""
    with _heads_lock:
        heads = _heads.get(recorder)
        if heads is None:
            heads = _heads[recorder] = FeedHeads(recorder)
        return heads
