"""Process-local state shared by every recorder of one feed in this process.

Per feed (database endpoint, table, namespace): the writer that groups this process's
concurrent commits (they would only contend on the feed head otherwise) and remembers the
last feed head (so a commit needs no read first), and the watch of the feed head that wakes
this process's subscriptions and idle workers (one poller for all of them, see :mod:`.poller`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from event_store.dynamodb.group import FeedWriter
from event_store.dynamodb.poller import HeadReader, HeadWatch


@dataclass
class FeedState:
    writer: FeedWriter = field(default_factory=FeedWriter)
    head: HeadWatch = field(default_factory=HeadWatch)

    def listen(self, event: threading.Event, read_head: HeadReader | None = None) -> None:
        """Set `event` when the feed head moves (see `HeadWatch.listen`)."""
        self.head.listen(event, read_head)

    def unlisten(self, event: threading.Event) -> None:
        self.head.unlisten(event)

    def notify(self, head: int) -> None:
        """Events up to `head` were just committed by this process: wake its readers."""
        self.head.advance(head, committed=True)


_registry: dict[tuple[str, str, str], FeedState] = {}
_registry_lock = threading.Lock()


def feed_state(endpoint: str, table_name: str, namespace: str) -> FeedState:
    key = (endpoint, table_name, namespace)
    with _registry_lock:
        state = _registry.get(key)
        if state is None:
            state = _registry[key] = FeedState()
        return state


def forget_table(endpoint: str, table_name: str) -> None:
    """Drop cached state of a deleted table."""
    with _registry_lock:
        for key in [k for k in _registry if k[0] == endpoint and k[1] == table_name]:
            state = _registry.pop(key)
            state.writer.cached_head = 0
