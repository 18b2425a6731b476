"""Fan-out of change notices across processes through Redis pub/sub.

Publishing uses a synchronous client (thread-safe: its connection pool serves the projection
worker threads). Subscribing uses ONE `redis.asyncio` pub/sub connection per process, owned by a
listener thread with its own event loop: it subscribes to a channel when the channel's first
local subscriber arrives, unsubscribes after the last one leaves, decodes each message once and
hands the same `ChangeNotice` to the local subscribers' bounded streams (see `fanout_memory`).

Redis pub/sub is AT MOST ONCE: a notice published while nobody in this process is subscribed to
its channel, or while the connection is down, is lost; Redis itself disconnects a subscriber
whose output buffer overflows. So that a client never silently misses notices, every local
subscription is ended with `SubscriptionEnded` when the connection is lost; clients re-read
and subscribe again (which reconnects). Consumers that need every change should read the event
feed from a known position instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from read_side.fanout_memory import (
    DEFAULT_CAPACITY,
    ChannelKey,
    LocalSubscribers,
    NoticeStream,
    SubscriptionEnded,
)
from read_side.notifications import ChangeNotice, Fanout, channel_name

log = logging.getLogger(__name__)


class RedisFanout(Fanout):
    """Change notices through Redis pub/sub (several API processes, one Redis)."""

    def __init__(
        self,
        url: str,
        capacity: int = DEFAULT_CAPACITY,
        poll_interval: float = 0.2,
        reconnect_delay: float = 1.0,
        client_name: str = "fleetwatch-fanout",
    ) -> None:
        self._url = url
        self._client_name = client_name  # of the pub/sub connection (CLIENT LIST)
        self._poll_interval = poll_interval  # how soon the listener acts on (un)subscriptions
        self._reconnect_delay = reconnect_delay
        self._publisher = redis.Redis.from_url(url)  # connects on first use
        self._subscribers = LocalSubscribers(capacity, on_change=self._wake_listener)
        self._lock = threading.Lock()
        self._confirmed: set[str] = set()  # channels Redis has confirmed (guarded by _lock)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        # Listener-loop state (only touched on the listener's loop):
        self._dirty = True
        self._wakeup: asyncio.Event | None = None
        self._wanted: dict[str, ChannelKey] = {}

    def publish(self, notice: ChangeNotice) -> None:
        self._publisher.publish(channel_name(notice.tenant_id, notice.topic), notice.to_json())

    def subscribe(self, tenant_id: str, topic: str) -> NoticeStream:
        """Must be called on the event loop that will iterate the stream. `await
        stream.ready()` to know when Redis has confirmed the channel's subscription."""
        self._start_listener()
        stream = self._subscribers.open(tenant_id, topic)
        with self._lock:
            confirmed = channel_name(tenant_id, topic) in self._confirmed
        if confirmed:
            stream.mark_ready()
        return stream

    def subscriber_count(self, tenant_id: str, topic: str) -> int:
        """Local subscribers of (tenant, topic) in this process."""
        return self._subscribers.count(tenant_id, topic)

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake_listener()
        if thread is not None:
            thread.join(timeout=5.0)
        self._subscribers.end_all(close=True)
        self._publisher.close()

    # The listener thread.

    def _start_listener(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run_listener, name="redis-fanout-listener", daemon=True
            )
            self._thread.start()

    def _wake_listener(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # RuntimeError: the listener has stopped
            loop.call_soon_threadsafe(self._on_wake)

    def _on_wake(self) -> None:
        self._dirty = True
        if self._wakeup is not None:
            self._wakeup.set()

    def _run_listener(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        finally:
            self._loop.close()

    async def _listen(self) -> None:
        self._wakeup = asyncio.Event()
        # No silent retries: a lost connection must end the local subscriptions (see above).
        client = redis.asyncio.Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0),
            socket_keepalive=True,
            socket_connect_timeout=5,
            client_name=self._client_name,
        )
        try:
            while not self._stopping:
                try:
                    await self._serve(client)
                except (redis.RedisError, OSError) as e:
                    log.warning("change fan-out lost Redis (%s); ending local subscriptions", e)
                    self._end_subscriptions()
                    await self._pause(self._reconnect_delay)
                except Exception:
                    log.exception("change fan-out listener failed; ending local subscriptions")
                    self._end_subscriptions()
                    await self._pause(self._reconnect_delay)
        finally:
            await client.aclose()

    def _end_subscriptions(self) -> None:
        self._subscribers.end_all(
            SubscriptionEnded("lost the connection to Redis; notices may be missing")
        )

    async def _serve(self, client: redis.asyncio.Redis) -> None:
        pubsub = client.pubsub()
        sent: set[str] = set()
        try:
            while not self._stopping:
                if self._dirty:
                    self._dirty = False
                    await self._reconcile(pubsub, sent)
                if not sent and not pubsub.subscribed:
                    await self._pause(None)  # nothing to listen to until woken
                    continue
                message = await pubsub.get_message(timeout=self._poll_interval)
                if message is not None:
                    self._handle(message, sent)
        finally:
            with self._lock:
                self._confirmed.clear()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _pause(self, seconds: float | None) -> None:
        """Until woken (or `seconds` have passed)."""
        assert self._wakeup is not None
        self._wakeup.clear()
        if self._dirty or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    async def _reconcile(self, pubsub: redis.asyncio.client.PubSub, sent: set[str]) -> None:
        """Subscribe to channels that gained local subscribers, leave those that lost them."""
        self._wanted = {channel_name(*key): key for key in self._subscribers.channels()}
        gone = sent - self._wanted.keys()
        new = self._wanted.keys() - sent
        if gone:
            with self._lock:
                self._confirmed -= gone
            sent -= gone
            await pubsub.unsubscribe(*gone)
        if new:
            sent |= new
            await pubsub.subscribe(*new)

    def _handle(self, message: dict[str, Any], sent: set[str]) -> None:
        kind = message["type"]
        channel = _text(message["channel"])
        if kind == "message":
            self._deliver(channel, message["data"])
        elif kind == "subscribe" and channel in sent:
            with self._lock:
                self._confirmed.add(channel)
            key = self._wanted.get(channel)
            for stream in self._subscribers.streams(key) if key else ():
                stream.mark_ready()

    def _deliver(self, channel: str, data: bytes) -> None:
        key = self._wanted.get(channel)
        if key is None:
            return  # a late message on a channel this process has just left
        try:
            notice = ChangeNotice.from_json(data)
        except (ValueError, TypeError) as e:
            log.warning("dropping a malformed change notice on %s: %s", channel, e)
            return
        if (notice.tenant_id, notice.topic) != key:
            log.warning("dropping a notice for %s published on %s", notice.tenant_id, channel)
            return
        self._subscribers.dispatch(notice)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
