"""What an idle reader of the feed (a projection worker, the API's follower of the feed) waits
on, and whether a read of the feed may find anything.

Workers used to read the feed tail every `idle_poll` seconds when idle: on DynamoDB a strongly
consistent Query each time, 20 RCU/s per worker thread for nothing. On DynamoDB the process
has one poller of the feed head for all its readers (`event_store.dynamodb.poller`), which
records the highest head seen and sets every listener's event when it moves: a worker then
reads only while that head is above its position (and keeps reading while it is: the head
can be seen before its feed item), plus a slow safety read every `SAFETY_READ_INTERVAL`
seconds. On SQLite a read is always worth it (a local select), but the store's notifier sets
the event on every commit of events to the file (at once for this process's, within 50 ms for
anybody else's: `event_store.sqlite_files.CommitNotifier`), so an idle worker waits for it
and reads again only after `SAFETY_READ_INTERVAL` without one, instead of every `idle_poll`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from typing import Protocol

SAFETY_READ_INTERVAL = 5.0
"""Seconds after which an idle DynamoDB worker reads the feed even though the known head says
there is nothing: a bound on the damage of a wake-up missed for a reason nobody foresaw."""


class KnownHead(Protocol):
    def behind(self, position: int) -> bool: ...


class FeedWake:
    """An event set by the store when the feed moves, and the store's known head, if any.

    `complete`: the store sets the event on every commit of events (SQLite's watched
    notifier), so an idle reader need not look before it is set.
    """

    def __init__(self, head: KnownHead | None = None, *, complete: bool = False) -> None:
        self.event = threading.Event()
        self._head = head
        self.complete = complete
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

    def rest(self, poll: float, until: float = math.inf) -> None:
        """An idle reader's wait, then `clear`: until the store sets the event, for at most
        `poll` seconds where the store does not tell of every commit, `SAFETY_READ_INTERVAL`
        where it does, and never past the reader's own next duty `until` seconds from now."""
        self.event.wait(min(until, SAFETY_READ_INTERVAL if self.complete else poll))
        self.event.clear()

    def interrupt(self) -> None:
        """End a `rest` now (a stop)."""
        self.event.set()


@contextlib.contextmanager
def woken_by_commits(recorder: object) -> Iterator[FeedWake]:
    """An event set when this process commits to the recorder's store (SQLite notifier), or
    when the feed head moves (DynamoDB feed state: this process's commits and its one head
    poller, whose known head also tells `worth_reading`), so a waiting reader goes at once;
    never set when there is neither."""
    notifier = getattr(recorder, "notifier", None)
    feed = None if notifier is not None else getattr(recorder, "feed_state", None)
    complete = notifier is not None and bool(notifier.watched)
    # The known head: SQLite's is this process's log of commits (its watcher keeps it),
    # DynamoDB's the head poller's.
    if notifier is not None:
        head = getattr(recorder, "commits", None)
    else:
        head = None if feed is None else feed.head
    wake = FeedWake(head, complete=complete)
    if notifier is not None:
        notifier.listen(wake.event, watch=True)
    elif feed is not None:
        feed.listen(wake.event, getattr(recorder, "max_notification_id", None))
    try:
        yield wake
    finally:
        for source in (notifier, feed):
            if source is not None:
                source.unlisten(wake.event)
