"""Shared execution of live subscriptions (`api.graphql.shared`), with a plain async source in
place of the schema: one execution per result for every member of a group, the group started
by its first member and stopped by its last, a member that falls behind dropped with
SUBSCRIBER_TOO_SLOW while the others get everything, an expired member ended alone, and the
group key (document, operation, variables in any order, tenant, roles)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from api.auth import Principal
from api.graphql.shared import SharedSubscriptions, group_key, group_principal, shareable

ALICE = Principal("alice", "acme", frozenset({"viewer"}))
BOB = Principal("bob", "acme", frozenset({"viewer"}))
QUERY = "subscription($id: ID) { deviceChanged(deviceId: $id) { eventType } }"


class Source:
    """A group's source: yields what is put into it; counts how often it was started."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.started = 0
        self.closed = 0

    async def start(self) -> AsyncIterator[Any]:
        self.started += 1
        return self.results()

    async def results(self) -> AsyncIterator[Any]:
        try:
            while (item := await self.queue.get()) is not None:
                yield item
        finally:
            self.closed += 1


async def take(stream: AsyncIterator[Any], n: int) -> list[Any]:
    return [await asyncio.wait_for(anext(stream), 1) for _ in range(n)]


def codes(result: Any) -> list[str]:
    return [e.extensions["code"] for e in result.errors]


def test_one_execution_for_every_member_started_and_stopped_with_them() -> None:
    async def scenario() -> None:
        shared, source = SharedSubscriptions(), Source()
        key = group_key(QUERY, {"id": "d"}, None, ALICE)
        members = [shared.join(key, p, source.start) for p in (ALICE, BOB, ALICE)]
        firsts = [asyncio.ensure_future(anext(m)) for m in members]
        await asyncio.sleep(0.01)
        assert (source.started, shared.subscribers()) == (1, 3)
        results = [{"n": i} for i in range(3)]
        for result in results:
            source.queue.put_nowait(result)
        assert [await f for f in firsts] == [results[0]] * 3
        for m in members:
            assert await take(m, 2) == results[1:]  # the very same objects
        assert shared.executions == 3
        await members[0].aclose()
        assert source.closed == 0  # others remain
        for m in members[1:]:
            await m.aclose()
        assert (source.closed, shared.groups) == (1, {})

    asyncio.run(scenario())


def test_a_member_that_falls_behind_is_dropped_alone() -> None:
    async def scenario() -> None:
        shared, source = SharedSubscriptions(capacity=2), Source()
        key = group_key(QUERY, None, None, ALICE)
        slow, fast = shared.join(key, ALICE, source.start), shared.join(key, BOB, source.start)
        first = asyncio.ensure_future(anext(slow))
        seen = asyncio.ensure_future(take(fast, 6))
        await asyncio.sleep(0.01)
        for i in range(6):
            source.queue.put_nowait({"n": i})
            await asyncio.sleep(0.01)  # the fast one reads as they come
        assert [r["n"] for r in await seen] == list(range(6))
        assert (await first)["n"] == 0
        rest = [item async for item in slow]  # what it held, then why it was dropped
        assert [r["n"] for r in rest[:-1]] == [1, 2]
        assert codes(rest[-1]) == ["SUBSCRIBER_TOO_SLOW"]
        await fast.aclose()

    asyncio.run(scenario())


def test_an_expired_member_ends_unauthenticated_and_the_others_go_on() -> None:
    async def scenario() -> None:
        shared, source = SharedSubscriptions(), Source()
        soon = Principal("carol", "acme", frozenset({"viewer"}), expires_at=time.time() - 3600)
        key = group_key(QUERY, None, None, ALICE)
        expired, alive = shared.join(key, soon, source.start), shared.join(key, ALICE, source.start)
        pending = asyncio.ensure_future(take(alive, 2))
        ended = asyncio.ensure_future(anext(expired))
        await asyncio.sleep(0.01)
        source.queue.put_nowait({"n": 0})
        source.queue.put_nowait({"n": 1})
        assert codes(await ended) == ["UNAUTHENTICATED"]
        assert [r async for r in expired] == []
        assert [r["n"] for r in await pending] == [0, 1]
        await alive.aclose()
        assert source.closed == 1

    asyncio.run(scenario())


def test_the_end_of_the_source_ends_every_member_and_a_newcomer_starts_afresh() -> None:
    async def scenario() -> None:
        shared, source = SharedSubscriptions(), Source()
        key = group_key(QUERY, None, None, ALICE)
        one = shared.join(key, ALICE, source.start)
        first = asyncio.ensure_future(anext(one))
        await asyncio.sleep(0.01)
        source.queue.put_nowait({"n": 0})
        source.queue.put_nowait(None)  # the source ends
        assert (await first)["n"] == 0
        assert [r async for r in one] == []
        again = shared.join(key, ALICE, source.start)
        nxt = asyncio.ensure_future(anext(again))
        await asyncio.sleep(0.01)
        assert source.started == 2
        source.queue.put_nowait({"n": 1})
        assert (await nxt)["n"] == 1
        await again.aclose()

    asyncio.run(scenario())


def test_a_group_set_aside_by_an_error_is_still_stopped_by_its_last_member() -> None:
    async def scenario() -> None:
        shared, source = SharedSubscriptions(), Source()
        key = group_key(QUERY, None, None, ALICE)
        member = shared.join(key, ALICE, source.start)
        first = asyncio.ensure_future(anext(member))
        await asyncio.sleep(0.01)
        failed = Failed()
        source.queue.put_nowait(failed)  # a result with errors: newcomers start afresh
        assert await first is failed
        assert shared.groups == {}
        await member.aclose()  # the source goes on yielding; its last member leaves
        await asyncio.sleep(0.01)
        assert source.closed == 1

    asyncio.run(scenario())


class Failed:
    errors = ("a field failed",)


def test_the_key_and_the_groups_principal() -> None:
    admin = Principal("dave", "acme", frozenset({"admin"}))
    other = Principal("erin", "globex", frozenset({"viewer"}))
    base = group_key(QUERY, {"a": 1, "b": 2}, None, ALICE)
    assert base == group_key(QUERY, {"b": 2, "a": 1}, None, BOB)  # another user, same view
    assert base != group_key(QUERY, {"a": 1, "b": 3}, None, ALICE)
    assert base != group_key(QUERY, {"a": 1, "b": 2}, None, admin)  # other roles
    assert base != group_key(QUERY, {"a": 1, "b": 2}, None, other)  # another tenant
    assert base != group_key(QUERY, {"a": 1, "b": 2}, "Named", ALICE)
    runner = group_principal(Principal("x", "acme", frozenset({"viewer"}), expires_at=1.0))
    assert (runner.tenant_id, runner.roles, runner.expires_at) == ("acme", {"viewer"}, None)
    assert shareable(QUERY, None, {"id": "d"})
    assert not shareable("{ devices { items { id } } }", None, None)
    assert not shareable("subscription {", None, None)  # does not parse: not shared
    two = "subscription A { deviceChanged { eventType } } query B { __typename }"
    assert shareable(two, "A", None)
    assert not shareable(two, "B", None)
    assert not shareable(two, None, None)  # ambiguous: the unshared path says so
    # A subscription that resumes has its own backfill: never shared.
    resuming = "subscription($a: String) { deviceChanged(after: $a) { position } }"
    assert shareable(resuming, None, {"a": None})
    assert not shareable(resuming, None, {"a": "12"})
    assert not shareable('subscription { deviceChanged(after: "12") { position } }', None, None)
    assert shareable("subscription { deviceChanged(after: null) { position } }", None, None)
