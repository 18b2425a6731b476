"""Both change fan-out adapters against one contract: tenant isolation, order, unsubscribe on
close, slow subscribers. For Redis, the publisher and the subscriber are two `RedisFanout`
instances (as two processes would be), so every contract test also crosses instances.

Redis pub/sub channels ignore the database number, so every test uses fresh tenant ids."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from read_side.fanout_memory import (
    InProcessFanout,
    NoticeStream,
    SubscriberTooSlow,
    SubscriptionEnded,
)
from read_side.fanout_redis import RedisFanout
from read_side.notifications import ChangeNotice, Fanout, channel_name

TOPIC = "device"
CAPACITY = 8


def notice(tenant_id: str, position: int, key: str = "d1") -> ChangeNotice:
    return ChangeNotice(
        tenant_id=tenant_id,
        topic=TOPIC,
        key=key,
        position=position,
        event_type="Device.Updated",
        data={"device_id": key, "position": position},
    )


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@dataclass
class Pair:
    publisher: Fanout
    subscriber: InProcessFanout | RedisFanout

    async def subscribe(self, tenant_id: str) -> NoticeStream:
        stream = self.subscriber.subscribe(tenant_id, TOPIC)
        await asyncio.wait_for(stream.ready(), 5)
        return stream

    async def publish(self, *notices: ChangeNotice) -> None:
        """From a worker thread, as a projection worker does."""

        def run() -> None:
            for item in notices:
                self.publisher.publish(item)

        await asyncio.to_thread(run)


@pytest.fixture(params=["memory", "redis"])
def pair(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Pair]:
    if request.param == "memory":
        fanout = InProcessFanout(capacity=CAPACITY)
        yield Pair(fanout, fanout)
        fanout.close()
        return
    publisher = RedisFanout(redis_url)
    subscriber = RedisFanout(redis_url, capacity=CAPACITY, poll_interval=0.05)
    yield Pair(publisher, subscriber)
    subscriber.close()
    publisher.close()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 10)

    asyncio.run(bounded())


async def take(stream: AsyncIterator[ChangeNotice], count: int) -> list[ChangeNotice]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


def test_a_tenant_receives_only_its_own_notices(pair: Pair) -> None:
    a, b = tenant(), tenant()

    async def scenario() -> None:
        stream_a, stream_b = await pair.subscribe(a), await pair.subscribe(b)
        await pair.publish(notice(a, 1), notice(a, 2), notice(b, 3), notice(a, 4))
        assert [n.position for n in await take(stream_b, 1)] == [3]
        assert [n.position for n in await take(stream_a, 3)] == [1, 2, 4]
        await pair.publish(notice(b, 5))
        (next_b,) = await take(stream_b, 1)
        assert (next_b.tenant_id, next_b.position) == (b, 5)
        assert all(n.tenant_id == a for n in [*await _drained(stream_a)])
        await stream_a.aclose()
        await stream_b.aclose()

    run(scenario)


async def _drained(stream: NoticeStream) -> list[ChangeNotice]:
    """Whatever is buffered now (waits briefly for in-flight notices)."""
    await asyncio.sleep(0.1)
    items: list[ChangeNotice] = []
    while True:
        try:
            items.append(await asyncio.wait_for(anext(stream), 0.05))
        except TimeoutError:
            return items


def test_every_subscriber_sees_notices_in_publication_order(pair: Pair) -> None:
    t = tenant()

    async def scenario() -> None:
        streams = [await pair.subscribe(t) for _ in range(3)]
        for start in range(0, 40, CAPACITY - 1):  # keep each burst within the capacity
            batch = [notice(t, p) for p in range(start + 1, min(start + CAPACITY, 41))]
            await pair.publish(*batch)
            for stream in streams:
                got = await take(stream, len(batch))
                assert [n.position for n in got] == [n.position for n in batch]
        for stream in streams:
            await stream.aclose()

    run(scenario)


def test_closing_a_stream_unsubscribes_it(pair: Pair) -> None:
    t = tenant()

    async def scenario() -> None:
        first, second = await pair.subscribe(t), await pair.subscribe(t)
        assert pair.subscriber.subscriber_count(t, TOPIC) == 2
        await first.aclose()
        assert pair.subscriber.subscriber_count(t, TOPIC) == 1
        with pytest.raises(StopAsyncIteration):
            await anext(first)
        await pair.publish(notice(t, 1))
        assert [n.position for n in await take(second, 1)] == [1]
        await second.aclose()
        assert pair.subscriber.subscriber_count(t, TOPIC) == 0

    run(scenario)


def test_a_subscriber_that_falls_behind_is_dropped_with_a_typed_error(pair: Pair) -> None:
    t = tenant()

    async def scenario() -> None:
        slow, fast = await pair.subscribe(t), await pair.subscribe(t)
        received: list[int] = []
        for start in range(0, CAPACITY * 3, 4):
            await pair.publish(*(notice(t, p) for p in range(start + 1, start + 5)))
            received += [n.position for n in await take(fast, 4)]  # the slow one never reads
        assert received == list(range(1, CAPACITY * 3 + 1))
        with pytest.raises(SubscriberTooSlow):
            await anext(slow)  # the backlog was discarded, not delivered late
        assert pair.subscriber.subscriber_count(t, TOPIC) == 1
        await slow.aclose()
        await fast.aclose()

    run(scenario)


def test_close_ends_every_subscription(pair: Pair) -> None:
    t = tenant()

    async def scenario() -> None:
        stream = await pair.subscribe(t)
        await pair.publish(notice(t, 1))
        await asyncio.sleep(0.2)
        pair.subscriber.close()
        assert [n.position async for n in stream] == [1]  # buffered notices, then the end
        late = pair.subscriber.subscribe(t, TOPIC)
        assert [n async for n in late] == []

    run(scenario)


def test_in_process_publish_without_subscribers_costs_nothing() -> None:
    fanout = InProcessFanout()
    fanout.publish(notice(tenant(), 1))  # no subscriber: nothing buffered anywhere
    assert fanout.subscriber_count("nobody", TOPIC) == 0


def test_in_process_stream_whose_loop_is_gone_is_forgotten() -> None:
    fanout = InProcessFanout()
    t = tenant()

    async def subscribe_and_leave() -> None:
        fanout.subscribe(t, TOPIC)  # never closed; its loop ends with asyncio.run

    asyncio.run(subscribe_and_leave())
    assert fanout.subscriber_count(t, TOPIC) == 1
    fanout.publish(notice(t, 1))
    assert fanout.subscriber_count(t, TOPIC) == 0


# Redis only.


def numsub(client: redis.Redis, channel: str) -> int:
    return int(client.pubsub_numsub(channel)[0][1])


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    event = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        event.wait(0.02)
    assert check()


def test_redis_notice_from_one_instance_reaches_subscribers_of_another(redis_url: str) -> None:
    t = tenant()
    publisher, subscriber = RedisFanout(redis_url), RedisFanout(redis_url)

    async def scenario() -> None:
        stream = subscriber.subscribe(t, TOPIC)
        await asyncio.wait_for(stream.ready(), 5)
        await asyncio.to_thread(publisher.publish, notice(t, 7, key="dev-7"))
        (got,) = await take(stream, 1)
        assert got == notice(t, 7, key="dev-7")
        await stream.aclose()

    try:
        run(scenario)
    finally:
        subscriber.close()
        publisher.close()


def test_redis_uses_one_subscription_per_channel_per_process(redis_url: str) -> None:
    t, other = tenant(), tenant()
    fanout = RedisFanout(redis_url, poll_interval=0.05, client_name=f"fanout-test-{t}")
    probe = redis.Redis.from_url(redis_url)

    async def scenario() -> None:
        streams = [fanout.subscribe(t, TOPIC) for _ in range(3)]
        streams.append(fanout.subscribe(other, TOPIC))
        for stream in streams:
            await asyncio.wait_for(stream.ready(), 5)
        assert numsub(probe, channel_name(t, TOPIC)) == 1
        assert numsub(probe, channel_name(other, TOPIC)) == 1
        names = [c.get("name") for c in probe.client_list()]
        assert names.count(f"fanout-test-{t}") == 1  # one connection for all subscribers
        for stream in streams[:2]:
            await stream.aclose()
        await asyncio.sleep(0.2)
        assert numsub(probe, channel_name(t, TOPIC)) == 1  # still one local subscriber
        await streams[2].aclose()
        await streams[3].aclose()
        await asyncio.to_thread(eventually, lambda: numsub(probe, channel_name(t, TOPIC)) == 0)
        assert numsub(probe, channel_name(other, TOPIC)) == 0

    try:
        run(scenario)
    finally:
        fanout.close()
        probe.close()


def test_redis_connection_loss_ends_subscriptions_instead_of_hiding_a_gap(
    redis_url: str,
) -> None:
    t = tenant()
    name = f"fanout-test-{t}"
    fanout = RedisFanout(redis_url, poll_interval=0.05, reconnect_delay=0.1, client_name=name)
    probe = redis.Redis.from_url(redis_url)

    async def scenario() -> None:
        stream = fanout.subscribe(t, TOPIC)
        await asyncio.wait_for(stream.ready(), 5)
        (client_id,) = [c["id"] for c in probe.client_list() if c.get("name") == name]
        probe.client_kill_filter(_id=client_id)
        with pytest.raises(SubscriptionEnded):
            await asyncio.wait_for(anext(stream), 5)
        await stream.aclose()
        again = fanout.subscribe(t, TOPIC)  # subscribing again reconnects
        await asyncio.wait_for(again.ready(), 5)
        await asyncio.to_thread(fanout.publish, notice(t, 2))
        assert [n.position for n in await take(again, 1)] == [2]
        await again.aclose()

    try:
        run(scenario)
    finally:
        fanout.close()
        probe.close()
