"""The `eventsourcing` library's recorder test cases, run against DynamoDB Local, plus the
module's own behaviour: Application round trip, feed buckets and gaps, the read-model
extension point (`write_with_tracking`), subscriptions woken by polling.

Every test gets a fresh table prefix; its tables are deleted afterwards.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from unittest import TestCase

import pytest
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from event_store.dynamodb import (
    DynamoDBAggregateRecorder,
    DynamoDBApplicationRecorder,
    DynamoDBFactory,
    DynamoDBProcessRecorder,
    DynamoDBTrackingRecorder,
)
from event_store.dynamodb.codec import encode_feed_chunk
from event_store.dynamodb.local import FeedState

pytestmark = pytest.mark.dynamodb


@pytest.fixture(autouse=True)
def _dynamodb_for_unittest(
    request: pytest.FixtureRequest,
    dynamodb_endpoint: str,
    table_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Give unittest-style test cases the session's endpoint and a fresh table prefix."""
    # DynamoDB Local rejects access key ids other than letters and digits.
    if not os.environ.get("AWS_ACCESS_KEY_ID", "").isalnum():
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fleetwatchtest")
    if request.instance is not None:
        request.instance.endpoint_url = dynamodb_endpoint
        request.instance.table_prefix = table_prefix


def make_env(endpoint_url: str, table_prefix: str, **extra: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "event_store.dynamodb",
        "DYNAMODB_ENDPOINT_URL": endpoint_url,
        "DYNAMODB_TABLE_PREFIX": table_prefix,
        **extra,
    }


class DynamoDBCase(TestCase):
    """Creates factories on the test's prefix; deletes their tables afterwards."""

    endpoint_url: str
    table_prefix: str

    def setUp(self) -> None:
        super().setUp()
        self._factories: list[DynamoDBFactory] = []

    def tearDown(self) -> None:
        for factory in self._factories:
            factory.delete_tables()
            factory.close()
        super().tearDown()

    def make_factory(self, **extra: str) -> DynamoDBFactory:
        factory = DynamoDBFactory(make_env(self.endpoint_url, self.table_prefix, **extra))
        self._factories.append(factory)
        return factory


class TestDynamoDBAggregateRecorder(DynamoDBCase, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder = self.make_factory().aggregate_recorder()
        assert type(recorder) is DynamoDBAggregateRecorder
        return recorder


class TestDynamoDBSnapshotRecorder(DynamoDBCase, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder = self.make_factory().aggregate_recorder("snapshots")
        assert isinstance(recorder, DynamoDBAggregateRecorder)
        assert recorder.events_table_name == f"{self.table_prefix}snapshots"
        return recorder


class TestDynamoDBApplicationRecorder(DynamoDBCase, ApplicationRecorderTestCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.make_factory().application_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestDynamoDBTrackingRecorder(DynamoDBCase, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.make_factory().tracking_recorder()


class TestDynamoDBProcessRecorder(DynamoDBCase, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.make_factory().process_recorder()


class TestDynamoDBNonInterleaving(DynamoDBCase, NonInterleavingNotificationIDsBaseCase):
    """Two threads of one process (they take turns on the process's feed lock)."""

    def create_recorder(self) -> ApplicationRecorder:
        return self.make_factory().application_recorder()


class PerThreadFeedStateRecorder(DynamoDBApplicationRecorder):
    """Each thread acts as its own process: own lock, own cached feed head, so concurrent
    writers really race on the feed head's condition in DynamoDB."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._per_thread = threading.local()
        super().__init__(*args, **kwargs)

    @property
    def feed_state(self) -> FeedState:
        state: FeedState | None = getattr(self._per_thread, "state", None)
        if state is None:
            state = self._per_thread.state = FeedState()
        return state

    @feed_state.setter
    def feed_state(self, value: FeedState) -> None:
        pass


class TestDynamoDBNonInterleavingAcrossProcesses(
    DynamoDBCase, NonInterleavingNotificationIDsBaseCase
):
    """Two writers that do not share a lock: the feed head's condition serialises them."""

    def create_recorder(self) -> ApplicationRecorder:
        factory = self.make_factory()
        recorder = PerThreadFeedStateRecorder(datastore=factory.datastore)
        recorder.create_table()
        return recorder


class TestDynamoDBApplicationRecorderAcrossProcesses(DynamoDBCase):
    def test_racing_writers_get_contiguous_ids(self) -> None:
        factory = self.make_factory()
        recorder = PerThreadFeedStateRecorder(datastore=factory.datastore)
        recorder.create_table()
        head_conflicts: list[int] = []

        def count_head_conflicts(parsed: dict[str, Any], **kwargs: Any) -> None:
            reasons = parsed.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                head_conflicts.append(1)

        factory.client.meta.events.register(
            "after-call.dynamodb.TransactWriteItems", count_head_conflicts
        )
        results: list[Sequence[int]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def write() -> None:
            try:
                for _ in range(15):
                    oid = uuid.uuid4()
                    ids = recorder.insert_events(
                        [StoredEvent(oid, v, "t", b"x") for v in range(1, 4)]
                    )
                    assert ids is not None
                    with lock:
                        results.append(ids)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        all_ids = sorted(i for ids in results for i in ids)
        assert all_ids == list(range(1, 4 * 15 * 3 + 1))
        for ids in results:
            assert list(ids) == list(range(ids[0], ids[0] + 3))
        notifications = recorder.select_notifications(None, 1000)
        assert [n.id for n in notifications] == all_ids
        assert head_conflicts, "the writers never raced on the feed head"


class CustomTrackingRecorder(DynamoDBTrackingRecorder):
    pass


class TestDynamoDBFactory(InfrastructureFactoryTestCase[DynamoDBFactory]):
    endpoint_url: str
    table_prefix: str

    def setUp(self) -> None:
        self.env = Environment(env=make_env(self.endpoint_url, self.table_prefix))
        super().setUp()

    def tearDown(self) -> None:
        self.factory.delete_tables()
        super().tearDown()

    def expected_factory_class(self) -> type[DynamoDBFactory]:
        return DynamoDBFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return DynamoDBAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return DynamoDBApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return DynamoDBTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return DynamoDBProcessRecorder

    def test_env_defaults(self) -> None:
        factory = DynamoDBFactory(Environment(env={"DYNAMODB_ENDPOINT_URL": self.endpoint_url}))
        try:
            assert factory.table_prefix == "fleetwatch_"
            assert factory.datastore.namespace == ""
            assert factory.client.meta.endpoint_url == self.endpoint_url
        finally:
            factory.close()
        named = DynamoDBFactory(
            Environment(
                name="Fleet",
                env={
                    "DYNAMODB_ENDPOINT_URL": self.endpoint_url,
                    "FLEET_DYNAMODB_TABLE_PREFIX": "fleet_",
                    "DYNAMODB_REGION": "eu-west-1",
                },
            )
        )
        try:
            assert named.table_prefix == "fleet_"
            assert named.datastore.namespace == "Fleet"
            assert named.client.meta.region_name == "eu-west-1"
        finally:
            named.close()
        with pytest.raises(OSError, match="TABLE_PREFIX"):
            DynamoDBFactory(Environment(env={"DYNAMODB_TABLE_PREFIX": "bad prefix!"}))


# --- Application round trip ------------------------------------------------------------------


class Device(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


def test_application_round_trip(dynamodb_endpoint: str, table_prefix: str) -> None:
    env = make_env(dynamodb_endpoint, table_prefix, IS_SNAPSHOTTING_ENABLED="yes")
    app: Application[uuid.UUID] = Application(env=env)
    try:
        device = Device("sensor-1")
        device.rename("sensor-2")
        app.save(device)
        other = Device("gateway")
        app.save(other)

        copy: Device = app.repository.get(device.id)
        assert isinstance(copy, Device)
        assert copy.name == "sensor-2"
        assert copy.version == 2
        old: Device = app.repository.get(device.id, version=1)
        assert isinstance(old, Device)
        assert old.name == "sensor-1"

        app.take_snapshot(device.id)
        copy.rename("sensor-3")
        app.save(copy)
        again: Device = app.repository.get(device.id)
        assert isinstance(again, Device)
        assert again.name == "sensor-3"
        assert again.version == 3

        notifications = app.notification_log.select(start=1, limit=10)
        assert [n.id for n in notifications] == [1, 2, 3, 4]
        assert notifications[2].originator_id == other.id
        assert app.recorder.max_notification_id() == 4

        # Two applications sharing a prefix have separate streams and feeds (namespaces).
        class OtherApp(Application[uuid.UUID]):
            pass

        other_app = OtherApp(env=make_env(dynamodb_endpoint, table_prefix))
        try:
            assert other_app.recorder.max_notification_id() is None
            with pytest.raises(AggregateNotFoundError):
                other_app.repository.get(device.id)
        finally:
            other_app.close()
    finally:
        app.factory.delete_tables()  # type: ignore[attr-defined]
        app.close()


# --- Feed buckets, gaps, streams ---------------------------------------------------------------


class SmallBucketRecorder(DynamoDBApplicationRecorder):
    feed_bucket_size = 10


@pytest.fixture
def factory(dynamodb_endpoint: str, table_prefix: str) -> Iterator[DynamoDBFactory]:
    factory = DynamoDBFactory(make_env(dynamodb_endpoint, table_prefix))
    yield factory
    factory.delete_tables()
    factory.close()


def events_for(
    originator_id: uuid.UUID | str, versions: range, topic: str = "t"
) -> list[StoredEvent]:
    return [StoredEvent(originator_id, v, topic, f"state-{v}".encode()) for v in versions]


def test_feed_commits_straddling_buckets(factory: DynamoDBFactory) -> None:
    recorder = SmallBucketRecorder(datastore=factory.datastore)
    recorder.create_table()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert recorder.insert_events(events_for(a, range(1, 8))) == list(range(1, 8))
    assert recorder.insert_events(events_for(b, range(1, 8))) == list(range(8, 15))
    assert recorder.insert_events(events_for(c, range(1, 26))) == list(range(15, 40))

    items = factory.client.query(
        TableName=recorder.events_table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "f#1"}},
        ConsistentRead=True,
    )["Items"]
    assert [(int(i["a"]["N"]), int(i["sk"]["N"])) for i in items] == [(10, 14), (15, 19)]

    everything = recorder.select_notifications(None, 100)
    assert [n.id for n in everything] == list(range(1, 40))
    assert [(n.originator_id, n.originator_version) for n in everything[7:14]] == [
        (b, v) for v in range(1, 8)
    ]
    for start in range(1, 40):
        page = recorder.select_notifications(start, 5)
        assert [n.id for n in page] == list(range(start, min(start + 5, 40)))
        page = recorder.select_notifications(start, 5, inclusive_of_start=False)
        assert [n.id for n in page] == list(range(start + 1, min(start + 6, 40)))
    assert [n.id for n in recorder.select_notifications(8, 100, stop=21)] == list(range(8, 22))
    assert recorder.select_notifications(40, 10) == []
    assert recorder.max_notification_id() == 39


def test_reader_stops_at_a_gap(factory: DynamoDBFactory) -> None:
    recorder = factory.application_recorder()
    assert isinstance(recorder, DynamoDBApplicationRecorder)
    oid = uuid.uuid4()
    recorder.insert_events(events_for(oid, range(1, 4)))

    def put_feed_item(first: int, events: list[StoredEvent]) -> None:
        factory.client.put_item(
            TableName=recorder.events_table_name,
            Item={
                "pk": {"S": "f#0"},
                "sk": {"N": str(first + len(events) - 1)},
                "a": {"N": str(first)},
                "b": {"B": encode_feed_chunk(events)},
            },
        )

    # Id 5 visible before id 4 (as a read-committed Query might show): readers wait at 4.
    put_feed_item(5, events_for(oid, range(5, 6)))
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2, 3]
    assert recorder.select_notifications(4, 10) == []
    put_feed_item(4, events_for(oid, range(4, 5)))
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2, 3, 4, 5]


def test_select_events_ranges_across_commits(factory: DynamoDBFactory) -> None:
    recorder = factory.application_recorder()
    oid = f"device-{uuid.uuid4()}"  # str originator ids work too
    for start in range(1, 20, 3):
        recorder.insert_events(events_for(oid, range(start, start + 3)))
    versions = list(range(1, 22))
    got = recorder.select_events(oid)
    assert [e.originator_version for e in got] == versions
    assert all(e.originator_id == oid for e in got)
    for gt in (None, 0, 1, 2, 3, 5, 20, 21):
        for lte in (None, 1, 3, 4, 11, 21):
            for desc in (False, True):
                for limit in (None, 1, 2, 5):
                    expected = [
                        v for v in versions if (gt is None or v > gt) and (lte is None or v <= lte)
                    ]
                    if desc:
                        expected.reverse()
                    if limit is not None:
                        expected = expected[:limit]
                    result = recorder.select_events(oid, gt=gt, lte=lte, desc=desc, limit=limit)
                    assert [e.originator_version for e in result] == expected, (
                        gt,
                        lte,
                        desc,
                        limit,
                    )
    notifications = recorder.select_notifications(None, 100)
    assert all(isinstance(n.originator_id, str) for n in notifications)
    # Lower versions than the stream's last cannot be inserted later (append-only streams).
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(oid, 0, "t", b"")])


def test_subscription_is_woken_by_polling(factory: DynamoDBFactory) -> None:
    """A commit by another process (no local wake-up) reaches a subscriber by polling."""
    reader = factory.application_recorder()
    writer = PerThreadFeedStateRecorder(datastore=factory.datastore)
    oid = uuid.uuid4()
    with reader.subscribe(gt=0) as subscription:
        time.sleep(0.5)  # the poller backs off to its idle interval
        started = time.monotonic()
        writer.insert_events(events_for(oid, range(1, 3)))
        received = []
        for notification in subscription:
            received.append(notification)
            if len(received) == 2:
                break
        latency = time.monotonic() - started
    assert [n.id for n in received] == [1, 2]
    assert latency < 1.5, latency


def test_subscription_stops_promptly(factory: DynamoDBFactory) -> None:
    recorder = factory.application_recorder()
    subscription = recorder.subscribe(gt=None)
    stopper = threading.Timer(0.3, subscription.stop)
    started = time.monotonic()
    with subscription:
        stopper.start()
        assert list(subscription) == []
    assert time.monotonic() - started < 2.0


# --- The read-model extension point -------------------------------------------------------------


class DeviceCountView(DynamoDBTrackingRecorder):
    """A read model kept in its own table, updated exactly once per notification."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.view_table = f"{self.table_prefix}device_counts"

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [
            {
                "TableName": self.view_table,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            }
        ]

    def count_action(self, key: str, *, condition: str | None = None) -> Mapping[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.view_table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "ADD c :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    def count(self, key: str) -> int:
        item = self.client.get_item(
            TableName=self.view_table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return 0 if item is None else int(item["c"]["N"])


def test_write_with_tracking(factory: DynamoDBFactory) -> None:
    view = factory.tracking_recorder(DeviceCountView)
    assert type(view) is DeviceCountView
    assert view.client is factory.client
    assert view.table_prefix == factory.table_prefix
    tables = factory.client.describe_table(TableName=view.view_table)["Table"]
    assert tables["TableStatus"] == "ACTIVE"

    view.write_with_tracking(Tracking("Fleet", 1), [view.count_action("online")])
    assert view.count("online") == 1
    assert view.max_tracking_id("Fleet") == 1

    # The same notification again: IntegrityError, the view is not updated twice.
    with pytest.raises(IntegrityError):
        view.write_with_tracking(Tracking("Fleet", 1), [view.count_action("online")])
    assert view.count("online") == 1

    # The caller's own condition fails: IntegrityError, tracking not advanced.
    with pytest.raises(IntegrityError):
        view.write_with_tracking(
            Tracking("Fleet", 2), [view.count_action("online", condition="attribute_not_exists(c)")]
        )
    assert view.max_tracking_id("Fleet") == 1
    assert view.count("online") == 1

    view.write_with_tracking(
        Tracking("Fleet", 2), [view.count_action("online"), view.count_action("offline")]
    )
    assert (view.count("online"), view.count("offline")) == (2, 1)
    assert view.has_tracking_id("Fleet", 2)

    # Tracking only (no items) is fine too.
    view.write_with_tracking(Tracking("Fleet", 3), [])
    assert view.max_tracking_id("Fleet") == 3

    # A view being rebuilt forgets its position.
    view.delete_tracking("Fleet")
    assert view.max_tracking_id("Fleet") is None
    view.write_with_tracking(Tracking("Fleet", 1), [])
    assert view.max_tracking_id("Fleet") == 1
    paginator = view.client.get_paginator("scan")
    pages = list(paginator.paginate(TableName=view.view_table, ConsistentRead=True))
    assert sum(len(page["Items"]) for page in pages) == 2

    factory.client.delete_table(TableName=view.view_table)
