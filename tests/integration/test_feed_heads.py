"""`api.graphql.feed_heads`: the followers of the feed (the `events` subscription) wait on the
event loop, all of them on ONE thread of the process, which ends with the last follower; a
commit by another connection (another process, to SQLite) or by another process's recorder
(DynamoDB Local, seen through this process's head poller) wakes every follower behind it."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import Environment

from api.graphql import feed_heads as feed_heads_module
from api.graphql.feed_heads import FeedHeads
from event_store.dynamodb import DynamoDBApplicationRecorder, DynamoDBFactory
from event_store.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from tests.integration.test_dynamodb_idle_reads import OtherProcessRecorder, events_for
from tests.integration.test_sqlite_idle_reads import commit_elsewhere


def heads_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "feed-heads"]


Commit = Callable[[int], None]  # events committed elsewhere, `count` of them


@pytest.fixture
def sqlite_feed(tmp_path: Path) -> Iterator[tuple[ApplicationRecorder, Commit]]:
    path = tmp_path / "events.sqlite3"
    factory = SQLiteFactory(Environment("Test", {"SQLITE_DBNAME": str(path)}))
    recorder = factory.application_recorder()
    assert isinstance(recorder, SQLiteApplicationRecorder)
    recorder.create_table()
    yield recorder, lambda count: commit_elsewhere(path, count)
    factory.close()


@pytest.fixture
def dynamodb_feed(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> tuple[ApplicationRecorder, Commit]:
    recorder.create_table()
    other = OtherProcessRecorder(datastore=factory.datastore)

    def commit(count: int) -> None:
        other.insert_events(events_for(uuid.uuid4(), range(1, count + 1)))

    return recorder, commit


@pytest.mark.parametrize(
    "feed", ["sqlite_feed", pytest.param("dynamodb_feed", marks=pytest.mark.dynamodb)]
)
def test_many_followers_wait_on_one_thread_and_wake_together(
    feed: str, request: pytest.FixtureRequest
) -> None:
    recorder, commit_elsewhere = request.getfixturevalue(feed)
    heads = FeedHeads(recorder)
    commit_elsewhere(3)

    async def scenario() -> tuple[int, float, list[bool]]:
        async with heads.following():
            await asyncio.wait_for(heads.passed(2), 5.0)  # already there: at once
            waiters = [asyncio.create_task(heads.passed(3)) for _ in range(200)]
            await asyncio.sleep(0.3)
            threads = len(heads_threads())
            pending = [not w.done() for w in waiters]
            started = time.monotonic()
            await asyncio.to_thread(commit_elsewhere, 1)
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


def test_a_failing_head_read_leaves_the_followers_waiting_not_failed(
    sqlite_feed: tuple[ApplicationRecorder, Commit], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store not answering (a read of the head raises) is retried after `RETRY_DELAY`;
    the followers keep waiting and pass once it answers again."""
    recorder, commit_elsewhere = sqlite_feed
    monkeypatch.setattr(feed_heads_module, "RETRY_DELAY", 0.1)
    failures = iter([OSError("the store did not answer")] * 3)
    read = recorder.max_notification_id

    def flaky() -> int | None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return read()

    monkeypatch.setattr(recorder, "max_notification_id", flaky)
    heads = FeedHeads(recorder)
    commit_elsewhere(1)

    async def scenario() -> None:
        async with heads.following():
            await asyncio.wait_for(heads.passed(0), 5.0)

    asyncio.run(scenario())
    assert next(failures, None) is None  # all three failures were met, then it answered
