"""This process's latest commits of events to one SQLite feed: their notification ids and
topics, so a reader that filters by topic can pass over the ones it would not read without
reading the feed (`CommitLog.passable`).

Every `SQLiteApplicationRecorder.insert_events` of this process adds its commit once it has
committed (`sqlite_files.CommitNotifier.notify`). A commit's ids are consecutive (one
transaction, rowids one above the largest so far: `event_store.sqlite`), so a commit is
(first id, last id, topics). A reader at position p may move to q without a read when every
id in (p, q] belongs to a remembered commit of none of its topics: ids are only ever given
at commit, so a remembered range holds exactly those events. Ids another process (or a path
that does not add its commits) gave are not remembered, so the reader stops before them and
reads as before: the log can save reads, never skip an event.

It is also the feed's known head where the process watches the file (`behind`, as DynamoDB's
head poller is there: `event_store.feed_wake`): the highest id committed that this process
knows of, raised by its own commits and by the watcher's looks, each before it wakes the
readers. So a reader at or past it rests without reading, and whatever is committed later
raises it, then wakes the reader. Unknown (every reader reads) until the watcher's first
look, and again while it cannot read the file or is not running. Pure, no I/O; thread-safe.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence

REMEMBERED = 4096
"""Commits remembered per feed: a reader further behind than that reads as before."""


class CommitLog:
    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._lock = threading.Lock()
        self._by_first: dict[int, tuple[int, frozenset[str]]] = {}  # first id -> last, topics
        self._firsts: deque[int] = deque()  # in the order added, to forget the oldest
        self._remembered = remembered
        self._local = 0  # the highest id this process committed
        self._observed: int | None = None  # the known head; None: unknown
        self._topic_sets: dict[frozenset[str], frozenset[str]] = {}  # one object per set

    def add(self, ids: Sequence[int], topics: Iterable[str]) -> None:
        """A commit of the events with these notification ids (consecutive) and topics."""
        if not ids:
            return
        first, last = ids[0], ids[-1]
        if last - first + 1 != len(ids):
            return  # not one consecutive range: not remembered (readers read it)
        held = frozenset(topics)
        with self._lock:
            if len(self._topic_sets) < self._remembered:
                held = self._topic_sets.setdefault(held, held)
            entry = (last, held)
            self._local = max(self._local, last)
            if self._observed is not None:
                self._observed = max(self._observed, last)
            if first not in self._by_first:
                self._firsts.append(first)
            self._by_first[first] = entry
            while len(self._firsts) > self._remembered:
                self._by_first.pop(self._firsts.popleft(), None)

    def passable(self, position: int, topics: frozenset[str]) -> int:
        """How far a reader at `position` that reads only `topics` may move without reading:
        over consecutive remembered commits right after it that hold none of them."""
        with self._lock:
            while (commit := self._by_first.get(position + 1)) is not None:
                last, held = commit
                if not held.isdisjoint(topics):
                    break
                position = last
        return position

    def observe(self, head: int | None) -> None:
        """The feed's head as the watcher just read it (before it wakes the readers); None: the
        watcher cannot tell (it failed, or stopped), so the head is unknown again."""
        with self._lock:
            if head is None:
                self._observed = None
            else:  # what it read covers every commit before the look; ours since, `_local`
                self._observed = max(head, self._local, self._observed or 0)

    def behind(self, position: int) -> bool:
        """Whether the feed may hold anything after `position` (always, when unknown)."""
        observed = self._observed
        return observed is None or observed > position
