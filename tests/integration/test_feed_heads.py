"""`api.graphql.feed_heads`: the followers of the feed (the `events` subscription) wait on the
event loop, all of them on ONE thread of the process, which ends with the last follower; a
commit by another connection (another process, to SQLite) wakes every follower behind it."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from api.graphql.feed_heads import FeedHeads
from event_store.sqlite import SQLiteApplicationRecorder
from tests.integration.test_sqlite_idle_reads import commit_elsewhere
from tests.integration.test_sqlite_idle_reads import path as path  # noqa: PLC0414 - a fixture
from tests.integration.test_sqlite_idle_reads import recorder as recorder  # noqa: PLC0414


def heads_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "feed-heads"]


def test_many_followers_wait_on_one_thread_and_wake_together(
    path: Path, recorder: SQLiteApplicationRecorder
) -> None:
    heads = FeedHeads(recorder)
    commit_elsewhere(path, 3)

    async def scenario() -> tuple[int, float, list[bool]]:
        async with heads.following():
            await asyncio.wait_for(heads.passed(2), 5.0)  # already there: at once
            waiters = [asyncio.create_task(heads.passed(3)) for _ in range(200)]
            await asyncio.sleep(0.3)
            threads = len(heads_threads())
            pending = [not w.done() for w in waiters]
            started = time.monotonic()
            await asyncio.to_thread(commit_elsewhere, path)
            await asyncio.wait_for(asyncio.gather(*waiters), 5.0)
            return threads, time.monotonic() - started, pending

    threads, latency, pending = asyncio.run(scenario())
    assert threads == 1
    assert all(pending)  # nobody passed before the commit
    assert latency < 1.0, latency
    deadline = time.monotonic() + 2.0
    while heads_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert heads_threads() == []  # the last follower gone, the thread ends
