"""In-process fan-out of change notices, and the bounded per-subscriber streams that the Redis
fan-out reuses for its local subscribers.

A projection worker publishes from its own thread; each subscriber reads on its own event loop.
A notice is appended to each matching subscriber's bounded buffer under a lock, and the
subscriber's loop is woken with `call_soon_threadsafe` (at most one wake-up pending per
subscriber, so a stalled loop never accumulates callbacks). A subscriber that falls `capacity`
notices behind is dropped: its buffer is discarded and its iterator raises `SubscriberTooSlow`,
so memory stays bounded and the subscriber learns that it missed notices.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable

from read_side.notifications import ChangeNotice, Fanout

DEFAULT_CAPACITY = 1000

ChannelKey = tuple[str, str]  # (tenant id, topic)


class SubscriptionEnded(Exception):
    """A subscription ended before its subscriber closed it; notices may have been missed.
    The subscriber should re-read the state it shows and subscribe again."""

    code = "SUBSCRIPTION_ENDED"


class SubscriberTooSlow(SubscriptionEnded):
    """The subscriber fell `capacity` notices behind and was dropped."""

    code = "SUBSCRIBER_TOO_SLOW"


class NoticeStream(AsyncIterator[ChangeNotice]):
    """One subscriber's notices, in publication order, until `aclose()` (or a typed end).

    Filled from any thread by `offer`; iterated on the event loop it was opened on.
    """

    def __init__(
        self,
        key: ChannelKey,
        loop: asyncio.AbstractEventLoop,
        capacity: int,
        on_close: Callable[[NoticeStream], None],
    ) -> None:
        self.key = key
        self._loop = loop
        self._capacity = capacity
        self._on_close = on_close
        self._lock = threading.Lock()
        self._buffer: deque[ChangeNotice] = deque()
        self._ended = False
        self._error: SubscriptionEnded | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wake_pending = False
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    async def ready(self) -> None:
        """Return once notices published from now on are sure to reach this stream (at once
        in process; after Redis has confirmed the channel's subscription for Redis)."""
        await asyncio.wrap_future(self._ready)

    def mark_ready(self) -> None:
        """Any thread; idempotent."""
        if not self._ready.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # marked meanwhile
                self._ready.set_result(None)

    def offer(self, notice: ChangeNotice) -> bool:
        """Any thread. False when the stream no longer accepts notices (ended, overflowed just
        now, or its event loop is gone): the caller should forget it."""
        with self._lock:
            if self._ended:
                return False
            if len(self._buffer) >= self._capacity:
                self._end_locked(
                    SubscriberTooSlow(
                        f"subscriber fell {self._capacity} notices behind and was dropped"
                    ),
                    discard=True,
                )
                accepted = False
            else:
                self._buffer.append(notice)
                accepted = True
        return self._wake() and accepted

    def end(self, error: SubscriptionEnded | None = None) -> None:
        """Any thread: no more notices. Buffered ones are still delivered, then the iterator
        stops (or raises `error`)."""
        with self._lock:
            if self._ended:
                return
            self._end_locked(error, discard=False)
        self._wake()

    async def aclose(self) -> None:
        with self._lock:
            self._end_locked(None, discard=True)
        self._on_close(self)
        self._set_waiter()

    def __aiter__(self) -> NoticeStream:
        return self

    async def __anext__(self) -> ChangeNotice:
        while True:
            with self._lock:
                if self._buffer:
                    return self._buffer.popleft()
                if self._ended:
                    if self._error is not None:
                        raise self._error
                    raise StopAsyncIteration
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    def _end_locked(self, error: SubscriptionEnded | None, *, discard: bool) -> None:
        self._ended = True
        self._error = self._error or error
        if discard:
            self._buffer.clear()

    def _wake(self) -> bool:
        """Schedule one wake-up of the reader on its loop; False when that loop is closed."""
        with self._lock:
            if self._wake_pending:
                return True
            self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._set_waiter)
        except RuntimeError:  # the subscriber's event loop is closed: nobody will read
            with self._lock:
                self._end_locked(None, discard=True)
            return False
        return True

    def _set_waiter(self) -> None:
        """On the stream's loop."""
        with self._lock:
            self._wake_pending = False
            waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class LocalSubscribers:
    """This process's subscribers, by (tenant, topic). Thread-safe.

    `on_change` is called (without a lock held) whenever a channel gains its first subscriber or
    loses its last, so an adapter can subscribe to or unsubscribe from its broker.
    """

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, on_change: Callable[[], None] | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._on_change = on_change
        self._lock = threading.Lock()
        self._dispatching = threading.Lock()  # every subscriber sees one publication order
        self._streams: dict[ChannelKey, set[NoticeStream]] = {}
        self._closed = False

    def open(self, tenant_id: str, topic: str) -> NoticeStream:
        """A new stream on the running event loop, receiving notices from now on."""
        key = (tenant_id, topic)
        stream = NoticeStream(key, asyncio.get_running_loop(), self.capacity, self.remove)
        with self._lock:
            closed = self._closed
            streams = self._streams.setdefault(key, set()) if not closed else set()
            first = not streams
            streams.add(stream)
        if closed:
            stream.end()
        elif first:
            self._changed()
        return stream

    def remove(self, stream: NoticeStream) -> None:
        """Forget `stream` (idempotent)."""
        with self._lock:
            streams = self._streams.get(stream.key)
            if streams is None or stream not in streams:
                return
            streams.discard(stream)
            last = not streams
            if last:
                del self._streams[stream.key]
        if last:
            self._changed()

    def dispatch(self, notice: ChangeNotice) -> int:
        """Offer `notice` to the subscribers of its (tenant, topic); returns how many took it.
        Subscribers that can take no more are dropped."""
        key = (notice.tenant_id, notice.topic)
        with self._dispatching:
            with self._lock:
                streams = tuple(self._streams.get(key, ()))
            dropped = [stream for stream in streams if not stream.offer(notice)]
        for stream in dropped:
            self.remove(stream)
        return len(streams) - len(dropped)

    def channels(self) -> set[ChannelKey]:
        with self._lock:
            return set(self._streams)

    def streams(self, key: ChannelKey) -> tuple[NoticeStream, ...]:
        with self._lock:
            return tuple(self._streams.get(key, ()))

    def count(self, tenant_id: str, topic: str) -> int:
        with self._lock:
            return len(self._streams.get((tenant_id, topic), ()))

    def end_all(self, error: SubscriptionEnded | None = None, *, close: bool = False) -> None:
        """End every stream (with `error`, or normally); `close` also refuses new ones."""
        with self._lock:
            self._closed = self._closed or close
            streams = [stream for group in self._streams.values() for stream in group]
            self._streams.clear()
        for stream in streams:
            stream.end(error)
        if streams:
            self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


class InProcessFanout(Fanout):
    """Publishers and subscribers in one process (the embedded default)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._subscribers = LocalSubscribers(capacity)

    def publish(self, notice: ChangeNotice) -> None:
        self._subscribers.dispatch(notice)

    def subscribe(self, tenant_id: str, topic: str) -> NoticeStream:
        """Must be called on the event loop that will iterate the stream."""
        stream = self._subscribers.open(tenant_id, topic)
        stream.mark_ready()
        return stream

    def subscriber_count(self, tenant_id: str, topic: str) -> int:
        return self._subscribers.count(tenant_id, topic)

    def close(self) -> None:
        """End every subscription (after what is buffered) and refuse new ones."""
        self._subscribers.end_all(close=True)
