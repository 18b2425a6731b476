"""The DynamoDB recorders' fault paths, on DynamoDB Local with faults at the boto3 boundary.

A committed write is never reported as a conflict or a failure (an attempt whose answer was
lost, then throttling or a conflict on the retry); contention on the feed head (AWS's
TransactionConflict) is ridden out like a moved head; retries stay within the token window.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from event_store.dynamodb import DynamoDBApplicationRecorder, DynamoDBFactory, RetryPolicy
from event_store.dynamodb.client import MAX_CALL_SECONDS, TOKEN_WINDOW_SECONDS
from event_store.dynamodb.local import FeedState
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import application_env
from fleetwatch.settings import Settings
from tests.dynamodb_faults import FaultInjector, error_response
from tests.integration.conftest import FAST_RETRIES
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.device_service import DeviceService
from write_side.devices import Device

pytestmark = pytest.mark.dynamodb


def events_for(oid: uuid.UUID, first: int, count: int) -> list[StoredEvent]:
    return [StoredEvent(oid, v, "t", b"x") for v in range(first, first + count)]


def feed_of(recorder: DynamoDBApplicationRecorder) -> list[tuple[int, str, int]]:
    return [
        (n.id, str(n.originator_id), n.originator_version)
        for n in recorder.select_notifications(None, 10_000)
    ]


def head_moved(head: int) -> dict[str, Any]:
    """The answer of a transaction that lost the feed head race: the head is now `head`."""
    return error_response(
        "TransactionCanceledException",
        CancellationReasons=[
            {"Code": "ConditionalCheckFailed", "Item": {"n": {"N": str(head)}}},
            {"Code": "None"},
            {"Code": "None"},
            {"Code": "None"},
        ],
    )


def answer_with(factory: DynamoDBFactory, answers: list[dict[str, Any]]) -> Callable[[], None]:
    """The next TransactWriteItems calls get these answers, then go to the store; returns the
    function that stops it."""
    scripted = iter(answers)

    def answer(**_: object) -> object:
        parsed = next(scripted, None)
        if parsed is None:
            return None
        return AWSResponse("http://injected", 400, {}, None), parsed

    events = factory.client.meta.events
    events.register("before-call.dynamodb.TransactWriteItems", answer)
    return lambda: events.unregister("before-call.dynamodb.TransactWriteItems", answer)


# --- 1. A write that committed is never reported as a conflict -----------------------------


@pytest.mark.parametrize("lost", ["timeout_after_commit", "error_500_after_commit"])
@pytest.mark.parametrize("then", ["throttle", "head_conflict", "timeout_before"])
def test_a_commit_whose_answer_was_lost_is_reported_as_stored(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder, lost: str, then: str
) -> None:
    """The first attempt commits and its answer is lost; the retry is throttled (or meets a
    conflict, or times out before sending), so the next attempt is a new request that fails
    on the stream head our own commit moved: the answer must be success, with our ids."""
    recorder.insert_events(events_for(uuid.uuid4(), 1, 2))  # the feed head is 2
    injector = FaultInjector(factory.client).then(lost, then)
    oid = uuid.uuid4()
    assert recorder.insert_events(events_for(oid, 1, 3)) == [3, 4, 5]
    assert injector.counts[lost] == 1
    assert [e.originator_version for e in recorder.select_events(oid)] == [1, 2, 3]
    assert feed_of(recorder)[2:] == [(3, str(oid), 1), (4, str(oid), 2), (5, str(oid), 3)]
    assert recorder.insert_events(events_for(oid, 4, 1)) == [6]


def test_a_commit_found_after_the_head_moved_keeps_its_own_positions(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """Lost answer, then a throttled retry, while another process commits: the next attempt
    fails on the feed head (which our commit and theirs moved) and on our stream head. The
    answer is our own ids, not the ones the moved head would suggest."""
    other = DynamoDBFactory(dict(factory.env))
    try:
        other_recorder = other.application_recorder()
        assert isinstance(other_recorder, DynamoDBApplicationRecorder)
        other_recorder.feed_state = FeedState()  # another process: its own writer and head
        other_oid = uuid.uuid4()
        calls = 0

        def commit_elsewhere(**_: object) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:  # between the lost answer and the throttled retry
                assert other_recorder.insert_events(events_for(other_oid, 1, 1)) == [4]

        factory.client.meta.events.register_first(
            "before-call.dynamodb.TransactWriteItems", commit_elsewhere
        )
        FaultInjector(factory.client).then("timeout_after_commit", "throttle")
        oid = uuid.uuid4()
        assert recorder.insert_events(events_for(oid, 1, 3)) == [1, 2, 3]
        assert calls == 3
        assert feed_of(recorder) == [
            (1, str(oid), 1),
            (2, str(oid), 2),
            (3, str(oid), 3),
            (4, str(other_oid), 1),
        ]
    finally:
        other.close()


def test_a_real_conflict_after_a_lost_answer_is_still_a_conflict(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """The lookup answers success only for our own commit: a version another writer stored
    stays a conflict, even after an attempt of unknown outcome (that did not commit)."""
    oid = uuid.uuid4()
    recorder.insert_events(events_for(oid, 1, 1))
    FaultInjector(factory.client).then("timeout_before")
    with pytest.raises(IntegrityError, match="stream_head"):
        recorder.insert_events([StoredEvent(oid, 1, "t", b"again")])
    assert feed_of(recorder) == [(1, str(oid), 1)]


def test_giving_up_after_a_lost_answer_reports_the_commit(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """The retries run out after the attempt that committed: success, not OperationalError."""
    factory.datastore.retry_policy = replace(
        factory.datastore.retry_policy, max_transient_attempts=3
    )
    FaultInjector(factory.client).then("timeout_after_commit", "throttle", "throttle", "throttle")
    oid = uuid.uuid4()
    assert recorder.insert_events(events_for(oid, 1, 2)) == [1, 2]
    assert len(recorder.select_events(oid)) == 2


def test_giving_up_when_nothing_committed_says_so(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    factory.datastore.retry_policy = replace(
        factory.datastore.retry_policy, max_transient_attempts=3
    )
    FaultInjector(factory.client).then("timeout_before", "throttle", "throttle")
    oid = uuid.uuid4()
    with pytest.raises(OperationalError, match="not committed"):
        recorder.insert_events(events_for(oid, 1, 2))
    assert recorder.select_events(oid) == []
    assert recorder.insert_events(events_for(oid, 1, 2)) == [1, 2]


def test_a_create_command_whose_answer_was_lost_makes_one_aggregate(
    dynamodb_endpoint: str, table_prefix: str
) -> None:
    """As a client sees it: the command succeeds once, so nothing retries it into a second
    device."""
    settings = Settings(
        store="dynamodb",
        dynamodb_endpoint_url=dynamodb_endpoint,
        dynamodb_table_prefix=table_prefix,
    )
    app = FleetApplication(env=application_env(settings))
    try:
        client = app.factory.datastore.client  # type: ignore[attr-defined]
        app.factory.datastore.retry_policy = replace(  # type: ignore[attr-defined]
            app.factory.datastore.retry_policy,
            **FAST_RETRIES,  # type: ignore[attr-defined]
        )
        FaultInjector(client).then("timeout_after_commit", "head_conflict")
        saved = DeviceService(app).register(
            RegisterDevice(name="pump", device_type="pump"), EventMetadata("acme", "user:al")
        )
        recorder = app.recorder
        registered = [
            n for n in recorder.select_notifications(None, 100) if n.topic.endswith("Registered")
        ]
        assert [n.originator_id for n in registered] == [saved.aggregate.id]
        assert isinstance(app.repository.get(saved.aggregate.id), Device)
    finally:
        app.close()


# --- 2. Head contention on AWS is ridden out -----------------------------------------------


def test_transaction_conflicts_on_the_head_are_head_contention_not_transient(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """More conflicts on the feed head than the transient budget allows: still committed."""
    policy = factory.datastore.retry_policy
    conflicts = policy.max_transient_attempts + 4
    injector = FaultInjector(factory.client).then(*["head_conflict"] * conflicts)
    oid = uuid.uuid4()
    assert recorder.insert_events(events_for(oid, 1, 2)) == [1, 2]
    assert injector.counts["head_conflict"] == conflicts
    assert feed_of(recorder) == [(1, str(oid), 1), (2, str(oid), 2)]


def test_the_head_budget_starts_again_when_the_head_moves(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """Losing the head race more often than `max_head_attempts` is fine while the head keeps
    moving (the writers are getting through); only a head that stands still exhausts it."""
    factory.datastore.retry_policy = replace(factory.datastore.retry_policy, max_head_attempts=4)
    answer_with(factory, [head_moved(head) for head in range(10, 20)])
    oid = uuid.uuid4()
    # Ten moved heads, then the real head (0) in the real answer, then the commit.
    assert recorder.insert_events(events_for(oid, 1, 1)) == [1]


def test_the_transient_budget_counts_errors_since_the_head_last_answered(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    """A run that loses the head race between throttles (a busy feed on a throttled table)
    commits while no `max_transient_attempts` throttles come in a row; that many in a row
    still gives up."""
    factory.datastore.retry_policy = replace(
        factory.datastore.retry_policy, max_transient_attempts=3
    )
    throttled = error_response("ThrottlingException")
    # Throttled twice, then the head moved: four rounds
    script = [a for head in range(10, 14) for a in (throttled, throttled, head_moved(head))]
    stop = answer_with(factory, script)
    # Eight throttles in all, never three in a row; then the real head (0), then the commit.
    assert recorder.insert_events(events_for(uuid.uuid4(), 1, 1)) == [1]
    stop()
    FaultInjector(factory.client).then("throttle", "throttle", "throttle")
    with pytest.raises(OperationalError, match="after 3 attempts"):
        recorder.insert_events(events_for(uuid.uuid4(), 1, 1))


def test_retries_stay_within_the_token_window() -> None:
    policy = RetryPolicy()
    assert policy.max_elapsed + policy.transient_max_delay + MAX_CALL_SECONDS < TOKEN_WINDOW_SECONDS
    with pytest.raises(ValueError, match="remembers it for 600 s"):
        RetryPolicy(max_elapsed=TOKEN_WINDOW_SECONDS - MAX_CALL_SECONDS)


def test_no_attempt_starts_after_the_time_budget(
    factory: DynamoDBFactory, recorder: DynamoDBApplicationRecorder
) -> None:
    factory.datastore.retry_policy = replace(
        factory.datastore.retry_policy, max_transient_attempts=1000, max_elapsed=0.2
    )
    injector = FaultInjector(factory.client, rates={"throttle": 1.0})
    with pytest.raises(OperationalError):
        recorder.insert_events(events_for(uuid.uuid4(), 1, 1))
    assert 1 < injector.calls < 1000
