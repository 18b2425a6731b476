"""Retries, limits and big commits of the DynamoDB recorders, against DynamoDB Local.

DynamoDB Local never throttles and never reports transaction conflicts, so those errors are
injected at the boto3 client through botocore's ``before-call`` event (the same mechanism
botocore's Stubber uses): the injected response replaces the request, after which the real
DynamoDB Local serves the retries. No mocks of DynamoDB itself.
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from dataclasses import replace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)

from event_store.dynamodb import (
    MAX_STREAMS_PER_CALL,
    DynamoDBApplicationRecorder,
    DynamoDBFactory,
    DynamoDBTrackingRecorder,
    TransactionLimitError,
)
from event_store.dynamodb.client import create_client
from event_store.dynamodb.commit import CommitPlan
from event_store.dynamodb.group import _Request

pytestmark = pytest.mark.dynamodb


def error_response(code: str, status: int = 400, **extra: Any) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }


class Injector:
    """Answers the next TransactWriteItems calls with the given error responses."""

    def __init__(self, factory: DynamoDBFactory, *responses: dict[str, Any]) -> None:
        self.responses = list(responses)
        self.calls = 0
        self.injected = 0
        self.events = factory.client.meta.events
        self.events.register("before-call.dynamodb.TransactWriteItems", self)

    def __call__(self, **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if not self.responses:
            return None
        self.injected += 1
        parsed = self.responses.pop(0)
        status = parsed["ResponseMetadata"]["HTTPStatusCode"]
        return AWSResponse("http://injected", status, {}, None), parsed

    def remove(self) -> None:
        self.events.unregister("before-call.dynamodb.TransactWriteItems", self)


class CancellationCounter:
    """Counts the cancellation reason codes DynamoDB Local really returned."""

    def __init__(self, factory: DynamoDBFactory) -> None:
        self.codes: list[str] = []
        factory.client.meta.events.register("after-call.dynamodb.TransactWriteItems", self)

    def __call__(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        for reason in parsed.get("CancellationReasons") or []:
            self.codes.append(reason.get("Code", ""))


def events_for(oid: uuid.UUID, count: int, state: bytes = b"x") -> list[StoredEvent]:
    return [StoredEvent(oid, v, "t", state) for v in range(1, count + 1)]


def assert_feed(recorder: DynamoDBApplicationRecorder, count: int) -> None:
    notifications = recorder.select_notifications(None, count + 10)
    assert [n.id for n in notifications] == list(range(1, count + 1))
    assert recorder.max_notification_id() == (count or None)


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TransactionConflictException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    ],
)
def test_throttling_and_conflict_errors_are_retried(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder, code: str
) -> None:
    recorder.insert_events(events_for(uuid.uuid4(), 2))
    injector = Injector(factory, error_response(code), error_response(code))
    oid = uuid.uuid4()
    assert recorder.insert_events(events_for(oid, 3)) == [3, 4, 5]
    assert (injector.calls, injector.injected) == (3, 2)
    assert len(recorder.select_events(oid)) == 3
    assert_feed(recorder, 5)


@pytest.mark.parametrize("reason", ["TransactionConflict", "ThrottlingError"])
def test_retryable_cancellation_reasons_are_retried(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder, reason: str
) -> None:
    cancelled = error_response(
        "TransactionCanceledException",
        CancellationReasons=[{"Code": "None"}, {"Code": reason}, {"Code": "None"}],
    )
    injector = Injector(factory, cancelled, cancelled, cancelled)
    assert recorder.insert_events(events_for(uuid.uuid4(), 2)) == [1, 2]
    assert injector.calls == 4
    assert_feed(recorder, 2)


def test_persistent_throttling_gives_up_with_operational_error(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    policy = factory.datastore.retry_policy
    injector = Injector(factory, *[error_response("ThrottlingException")] * 50)
    oid = uuid.uuid4()
    with pytest.raises(OperationalError, match="after 8 attempts"):
        recorder.insert_events(events_for(oid, 2))
    assert injector.calls == policy.max_transient_attempts
    injector.remove()
    assert recorder.select_events(oid) == []
    assert_feed(recorder, 0)
    assert recorder.insert_events(events_for(oid, 2)) == [1, 2]


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_unknown_outcome_is_retried_with_the_same_token(
    factory: DynamoDBFactory,
    recorder: DynamoDBApplicationRecorder,
    dynamodb_endpoint: str,
    failure: str,
) -> None:
    """The transaction commits but the answer is lost (a 500, or a read timeout): the retry,
    with the same ClientRequestToken, must succeed without committing twice."""
    other_client = create_client(dynamodb_endpoint, "us-east-1")
    captured: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **kwargs: Any) -> None:
        captured.append(dict(params))

    def commit_then_fail(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if len(captured) > 1:
            return None  # the retry goes through for real
        other_client.transact_write_items(**captured[0])
        if failure == "timeout":
            raise ReadTimeoutError(endpoint_url=dynamodb_endpoint)
        parsed = error_response("InternalServerError", 500)
        return AWSResponse("http://injected", 500, {}, None), parsed

    events = factory.client.meta.events
    events.register("before-parameter-build.dynamodb.TransactWriteItems", capture)
    events.register("before-call.dynamodb.TransactWriteItems", commit_then_fail)
    oid = uuid.uuid4()
    try:
        assert recorder.insert_events(events_for(oid, 3)) == [1, 2, 3]
    finally:
        other_client.close()
    assert len(captured) == 2
    assert captured[0]["ClientRequestToken"] == captured[1]["ClientRequestToken"]
    assert [e.originator_version for e in recorder.select_events(oid)] == [1, 2, 3]
    assert_feed(recorder, 3)
    assert recorder.insert_events(events_for(uuid.uuid4(), 1)) == [4]


def test_feed_head_contention_is_retried_for_the_new_head(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """Another process committed (so the cached head is stale): DynamoDB cancels on the head's
    condition, and the retry uses the head returned with the cancellation."""
    recorder.insert_events(events_for(uuid.uuid4(), 5))
    recorder.feed_state.writer.cached_head = 2  # as if another writer had committed since
    counter = CancellationCounter(factory)
    assert recorder.insert_events(events_for(uuid.uuid4(), 2)) == [6, 7]
    assert counter.codes[0] == "ConditionalCheckFailed"
    assert set(counter.codes[1:]) <= {"None"}
    assert_feed(recorder, 7)


def test_persistent_head_contention_gives_up(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    factory.datastore.retry_policy = replace(factory.datastore.retry_policy, max_head_attempts=5)
    lost = error_response(
        "TransactionCanceledException",
        CancellationReasons=[
            {"Code": "ConditionalCheckFailed", "Item": {"n": {"N": "7"}}},
            {"Code": "None"},
            {"Code": "None"},
            {"Code": "None"},
        ],
    )
    injector = Injector(factory, *[lost] * 20)
    with pytest.raises(OperationalError, match="contended after 5 attempts"):
        recorder.insert_events(events_for(uuid.uuid4(), 1))
    assert injector.calls == 5


def test_stream_conflict_raises_integrity_error_at_once(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    oid = uuid.uuid4()
    recorder.insert_events(events_for(oid, 2))
    recorder.feed_state.writer.cached_head = 0  # even with a stale head: no retry
    injector = Injector(factory)
    with pytest.raises(IntegrityError, match="stream_head"):
        recorder.insert_events([StoredEvent(oid, 2, "t", b"again")])
    assert injector.calls == 1
    assert_feed(recorder, 2)


def test_too_many_streams_in_one_call(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    injector = Injector(factory)
    # 1 feed head + 49 x (stream head + stream commit) + 1 feed commit = 100 actions: fits.
    assert recorder.insert_events(
        [StoredEvent(uuid.uuid4(), 1, "t", b"x") for _ in range(49)]
    ) == list(range(1, 50))
    streams = [uuid.uuid4() for _ in range(50)]
    with pytest.raises(TransactionLimitError, match="at most 100") as caught:
        recorder.insert_events([StoredEvent(oid, 1, "t", b"x") for oid in streams])
    assert isinstance(caught.value, ProgrammingError)
    assert MAX_STREAMS_PER_CALL < 49
    assert injector.calls == 1  # the second call never reached DynamoDB
    assert all(recorder.select_events(oid) == [] for oid in streams)
    assert_feed(recorder, 49)


def test_write_with_tracking_limit(factory: DynamoDBFactory) -> None:
    tracking_recorder = factory.tracking_recorder()
    items = [
        {
            "Put": {
                "TableName": tracking_recorder.tracking_table_name,
                "Item": {"pk": {"S": f"other-{i}"}},
            }
        }
        for i in range(100)
    ]
    with pytest.raises(TransactionLimitError):
        tracking_recorder.write_with_tracking(Tracking("up", 1), items)
    tracking_recorder.write_with_tracking(Tracking("up", 1), items[:99])
    assert tracking_recorder.max_tracking_id("up") == 1


def test_write_with_tracking_retries_throttling(factory: DynamoDBFactory) -> None:
    tracking_recorder = factory.tracking_recorder()
    assert type(tracking_recorder) is DynamoDBTrackingRecorder
    injector = Injector(factory, error_response("ThrottlingException"))
    tracking_recorder.write_with_tracking(Tracking("up", 5), [])
    assert injector.calls == 2
    assert tracking_recorder.max_tracking_id("up") == 5


def reading_state(rng: random.Random, i: int) -> bytes:
    """About 1 KB of JSON, like a telemetry event (compresses about 2:1)."""
    readings = {f"sensor_{k}": round(rng.uniform(-50, 150), 3) for k in range(40)}
    state = {"seq": i, "device": f"dev-{rng.getrandbits(64):016x}", "readings": readings}
    data = json.dumps(state).encode()
    return data + b" " * max(0, 1024 - len(data))


def count_items(factory: DynamoDBFactory, table: str, pk: str) -> int:
    response = factory.client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        Select="COUNT",
        ConsistentRead=True,
    )
    return int(response["Count"])


def test_commit_bigger_than_one_item_is_atomic_and_readable(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    rng = random.Random(7)
    small = uuid.uuid4()
    recorder.insert_events(events_for(small, 1))

    big = uuid.uuid4()
    events = [StoredEvent(big, v, "Reading", reading_state(rng, v)) for v in range(1, 2001)]
    assert sum(len(e.state) for e in events) >= 2000 * 1024

    # The same big commit, plus a conflicting event of another stream: nothing is written.
    with pytest.raises(IntegrityError):
        recorder.insert_events([*events, StoredEvent(small, 1, "t", b"conflict")])
    assert recorder.select_events(big) == []
    assert_feed(recorder, 1)

    assert recorder.insert_events(events) == list(range(2, 2002))
    table = recorder.events_table_name
    assert count_items(factory, table, f"s#{big}") > 1
    assert count_items(factory, table, "f#0") > 2

    stored = recorder.select_events(big)
    assert stored == events
    assert recorder.select_events(big, gt=1500, lte=1502) == events[1500:1502]
    assert recorder.select_events(big, desc=True, limit=3) == events[::-1][:3]
    assert recorder.select_events(big, lte=1000, desc=True, limit=1) == [events[999]]
    notifications = recorder.select_notifications(None, 5000)
    assert [n.id for n in notifications] == list(range(1, 2002))
    assert [n.state for n in notifications[1:]] == [e.state for e in events]
    page = recorder.select_notifications(1000, 10)
    assert [n.originator_version for n in page] == list(range(999, 1009))


def test_commit_near_the_transaction_size_limit(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """1.9 MB of incompressible events is stored twice (stream + feed): 3.8 MB, it fits."""
    oid = uuid.uuid4()
    events = [StoredEvent(oid, v, "Blob", os.urandom(1000)) for v in range(1, 1901)]
    assert recorder.insert_events(events) == list(range(1, 1901))
    assert recorder.select_events(oid) == events


def test_commit_over_the_transaction_size_limit(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    oid = uuid.uuid4()
    events = [StoredEvent(oid, v, "Blob", os.urandom(1000)) for v in range(1, 2101)]
    injector = Injector(factory)
    with pytest.raises(TransactionLimitError, match="4,000,000"):
        recorder.insert_events(events)
    assert injector.calls == 0
    assert recorder.select_events(oid) == []
    assert_feed(recorder, 0)


# --- Group commit ---------------------------------------------------------------------------------


class TransactionCounter:
    def __init__(self, factory: DynamoDBFactory) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        factory.client.meta.events.register("before-call.dynamodb.TransactWriteItems", self)

    def __call__(self, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1


def test_concurrent_calls_share_transactions(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    counter = TransactionCounter(factory)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def write() -> None:
        start.wait()
        try:
            for _ in range(25):
                ids = recorder.insert_events(events_for(uuid.uuid4(), 2))
                assert ids is not None
                with lock:
                    results.append(list(ids))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(i for ids in results for i in ids) == list(range(1, 401))
    assert all(ids == [ids[0], ids[0] + 1] for ids in results)
    assert counter.calls < 200  # calls were grouped
    assert_feed(recorder, 400)


def make_request(recorder: DynamoDBApplicationRecorder, events: list[StoredEvent]) -> Any:
    plan = CommitPlan(
        table_name=recorder.events_table_name,
        keys=recorder.keys,
        events=events,
        with_feed=True,
        bucket_size=recorder.feed_bucket_size,
    )
    return _Request(plan)


def test_group_with_a_conflicting_call(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    existing = uuid.uuid4()
    recorder.insert_events(events_for(existing, 1))
    a, c = uuid.uuid4(), uuid.uuid4()
    batch = [
        make_request(recorder, events_for(a, 2)),
        make_request(recorder, [StoredEvent(existing, 1, "t", b"dup")]),
        make_request(recorder, events_for(c, 3)),
    ]
    writer = recorder.feed_state.writer
    writer._run(batch, factory.client, factory.datastore.retry_policy)
    assert [r.ids for r in batch] == [[2, 3], None, [4, 5, 6]]
    assert isinstance(batch[1].error, IntegrityError)
    assert len(recorder.select_events(existing)) == 1
    assert_feed(recorder, 6)


def test_group_failing_otherwise_is_retried_call_by_call(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    good = make_request(recorder, events_for(uuid.uuid4(), 2))
    bad_plan = CommitPlan(
        table_name=recorder.events_table_name,
        keys=recorder.keys,
        events=events_for(uuid.uuid4(), 1),
        with_feed=True,
        bucket_size=recorder.feed_bucket_size,
        leading_items=[
            (
                "tracking",
                {
                    "Update": {
                        "TableName": "no_such_table",
                        "Key": {"pk": {"S": "x"}},
                        "UpdateExpression": "SET n = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            )
        ],
    )
    bad = _Request(bad_plan)
    recorder.feed_state.writer._run([good, bad], factory.client, factory.datastore.retry_policy)
    assert good.ids == [1, 2]
    assert isinstance(bad.error, ProgrammingError)
    assert_feed(recorder, 2)


def test_calls_on_the_same_stream_are_not_grouped(
    recorder: DynamoDBApplicationRecorder,
) -> None:
    x, y = uuid.uuid4(), uuid.uuid4()
    writer = recorder.feed_state.writer
    requests = [
        make_request(recorder, events_for(x, 1)),
        make_request(recorder, events_for(y, 1)),
        make_request(recorder, [StoredEvent(x, 2, "t", b"")]),
    ]
    writer._queue.extend(requests)
    assert writer._take_batch() == requests[:2]
    assert writer._take_batch() == requests[2:]


def test_event_too_large_for_an_item(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    oid = uuid.uuid4()
    with pytest.raises(DataError, match="too large for one DynamoDB item"):
        recorder.insert_events([StoredEvent(oid, 1, "t", os.urandom(500_000))])
    assert recorder.select_events(oid) == []
    # Compressible states that big are fine.
    assert recorder.insert_events([StoredEvent(oid, 1, "t", b"a" * 500_000)]) == [1]
    assert recorder.select_events(oid)[0].state == b"a" * 500_000
