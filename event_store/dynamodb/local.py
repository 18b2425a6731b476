"""Process-local state shared by every recorder of one feed in this process.

Per feed (database endpoint, table, namespace): the writer that groups this process's
concurrent commits (they would only contend on the feed head otherwise) and remembers the
last feed head (so a commit needs no read first), and the wake-ups of this process's
subscriptions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from event_store.dynamodb.group import FeedWriter


@dataclass
class FeedState:
    writer: FeedWriter = field(default_factory=FeedWriter)
    _listeners: set[threading.Event] = field(default_factory=set)
    _listeners_lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, event: threading.Event) -> None:
        with self._listeners_lock:
            self._listeners.add(event)

    def unlisten(self, event: threading.Event) -> None:
        with self._listeners_lock:
            self._listeners.discard(event)

    def notify(self) -> None:
        """Wake this process's subscriptions to the feed (events were just committed)."""
        with self._listeners_lock:
            listeners = list(self._listeners)
        for event in listeners:
            event.set()


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
