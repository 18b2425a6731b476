"""DynamoDB view batches bigger than one transaction (issue 10, defects 3 and 4).

Two view instances (users, device status, alerts) on the same tables, each with its own
client (as two worker processes have), commit batches of 300 rows of the same keys: the
leading one at a newer version and tracking id, the lagging one at an older. A boto3 hook
holds one of them before a chosen TransactWriteItems (nothing sent yet) so the interleaving
is forced, not hoped for:

- the lagging one's remaining parts go after the leading one has recorded its position: the
  tracking ConditionCheck on every part stops them (`AlreadyTracked`);
- both pass their first checks before either records: the rows' own guards stop the lagging
  one (a plain IntegrityError, never `AlreadyTracked`).

Either way no row goes back and the checkpoint is the leading one's. Then: a failed row
condition is never taken for "already tracked" by a worker, which resumes from its checkpoint.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from event_store.dynamodb.client import DynamoDBClient, create_client
from event_store.dynamodb.datastore import DynamoDBDatastore
from event_store.dynamodb.tracking_recorder import DynamoDBTrackingRecorder
from event_store.envelope import EventMetadata
from event_store.tracking import AlreadyTracked
from fleetwatch.bootstrap import application_env
from fleetwatch.settings import Settings
from projections.batching import BatchingProjectionWorker
from projections.users import UsersProjection
from read_side.alerts import AlertRow, AlertsChanges
from read_side.alerts.dynamodb import DynamoDBAlertsView
from read_side.alerts.dynamodb_items import table_names as alert_tables
from read_side.device_status import DeviceStatus
from read_side.device_status.dynamodb import DynamoDBDeviceStatusView
from read_side.device_status.dynamodb import table_name as devices_table
from read_side.users import UserRow
from read_side.users.dynamodb import DynamoDBUsersReader, DynamoDBUsersView
from read_side.users.dynamodb import table_name as users_table
from tests.integration.test_telemetry_projection import METRICS, T0, assert_matches, open_store
from tests.integration.test_telemetry_projection import record as record_telemetry
from write_side.application import FleetApplication
from write_side.user_commands import UpdateMyProfile
from write_side.user_service import UserService

TENANT = "acme"
ROWS = 300  # 4 parts: 99 + 99 + 99 + 3
NAME = "Fleetwatch>view"
TRANSACT = "before-call.dynamodb.TransactWriteItems"
AT = datetime(2026, 1, 1, tzinfo=UTC)


class HoldBefore:
    """Holds the n-th TransactWriteItems of a client (before it is sent) until released."""

    def __init__(self, client: DynamoDBClient, call: int) -> None:
        self.events = client.meta.events
        self.call = call
        self.calls = 0
        self.reached = threading.Event()
        self.released = threading.Event()
        self.events.register(TRANSACT, self)

    def __call__(self, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls == self.call:
            self.reached.set()
            assert self.released.wait(30), "never released"

    def remove(self) -> None:
        self.events.unregister(TRANSACT, self)


class InThread:
    """Runs `action` in a thread and keeps what it raised."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self.thread.start()

    def _run(self, action: Callable[[], None]) -> None:
        try:
            action()
        except BaseException as e:
            self.error = e

    def join(self) -> BaseException | None:
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.error


@dataclass
class Model:
    """One view's rows of the same keys, at a given guard value (version or position)."""

    view_class: type[DynamoDBTrackingRecorder]
    table: Callable[[str], str]
    key: str  # sort key name
    guard: str  # the row's guard attribute
    rows: Callable[[list[uuid.UUID], int], Sequence[Any]]
    save: Callable[[Any, Sequence[Any], Tracking], None]


def user_rows(ids: list[uuid.UUID], version: int) -> list[UserRow]:
    return [
        UserRow(
            tenant_id=TENANT,
            user_id=user_id,
            subject=f"s{i}",
            email=f"v{version}@example.com",
            display_name=None,
            phone_e164=None,
            time_zone="UTC",
            locale="en",
            preferences={},
            push_tokens=(),
            version=version,
            updated_at=AT + timedelta(seconds=version),
        )
        for i, user_id in enumerate(ids)
    ]


def device_rows(ids: list[uuid.UUID], position: int) -> list[DeviceStatus]:
    return [
        DeviceStatus(
            device_id=device_id,
            tenant_id=TENANT,
            name=f"d{i} at {position}",
            device_type="pump",
            tags=(),
            metadata={},
            lifecycle="active",
            version=position,
            registered_at=AT,
            updated_at=AT + timedelta(seconds=position),
            position=position,
        )
        for i, device_id in enumerate(ids)
    ]


def alert_rows(ids: list[uuid.UUID], version: int) -> list[AlertRow]:
    return [
        AlertRow(
            tenant_id=TENANT,
            alert_id=alert_id,
            rule_id=alert_id,
            rule_revision=1,
            rule_name="hot",
            device_id=alert_id,
            device_name=f"d{i}",
            episode=1,
            severity="warning",
            state="open",
            kind="threshold",
            metric="temp",
            trigger_value=81.0,
            threshold=80.0,
            condition_text="temp > 80",
            raised_at=AT,
            count=version,
            last_value=80.0 + version,
            peak_value=80.0 + version,
            last_at=AT + timedelta(seconds=version),
            version=version,
            position=version,
        )
        for i, alert_id in enumerate(ids)
    ]


MODELS = {
    "users": Model(
        DynamoDBUsersView,
        users_table,
        "user_id",
        "version",
        user_rows,
        lambda view, rows, tracking: view.save_many(rows, tracking),
    ),
    "alerts": Model(
        DynamoDBAlertsView,
        lambda prefix: alert_tables(prefix)["alerts"],
        "alert_id",
        "version",
        alert_rows,
        lambda view, rows, tracking: view.commit(AlertsChanges(alerts=list(rows)), tracking),
    ),
    "device_status": Model(
        DynamoDBDeviceStatusView,
        devices_table,
        "device_id",
        "position",
        device_rows,
        lambda view, rows, tracking: view.save_many(rows, tracking),
    ),
}


@pytest.fixture(params=sorted(MODELS))
def model(request: pytest.FixtureRequest) -> Model:
    return MODELS[request.param]


@pytest.fixture
def views(
    model: Model, dynamodb_endpoint: str, table_prefix: str
) -> Iterator[tuple[Any, Any, DynamoDBClient]]:
    """Two views of `model` on the same tables, each with its own client, and a third client."""
    clients = [create_client(dynamodb_endpoint, "us-east-1") for _ in range(3)]
    made = [model.view_class(DynamoDBDatastore(c, table_prefix)) for c in clients[:2]]
    made[0].create_table()
    yield made[0], made[1], clients[2]
    for client in clients:
        client.close()


def guards(client: DynamoDBClient, model: Model, prefix: str) -> dict[str, int]:
    """Each row's guard value, by key (consistent scan)."""
    pages = client.get_paginator("scan").paginate(
        TableName=model.table(prefix), ConsistentRead=True
    )
    return {
        item[model.key]["S"]: int(item[model.guard]["N"])
        for page in pages
        for item in page.get("Items", [])
    }


def regressed(client: DynamoDBClient, model: Model, prefix: str, ids: list[uuid.UUID]) -> list[str]:
    """The rows not at the leading worker's guard value 2 (all of `ids` must be there)."""
    found = guards(client, model, prefix)
    return [i.hex for i in ids if found.get(i.hex) != 2]


def test_a_lagging_workers_parts_after_the_leaders_commit_write_nothing(
    model: Model, views: tuple[Any, Any, DynamoDBClient], table_prefix: str
) -> None:
    leading, lagging, client = views
    ids = [uuid.uuid4() for _ in range(ROWS)]
    hold = HoldBefore(lagging.client, call=2)  # its first part is committed, three to go
    behind = InThread(lambda: model.save(lagging, model.rows(ids, 1), Tracking(NAME, 10)))
    assert hold.reached.wait(30)
    model.save(leading, model.rows(ids, 2), Tracking(NAME, 20))
    hold.released.set()
    error = behind.join()
    hold.remove()

    assert regressed(client, model, table_prefix, ids) == []
    assert leading.max_tracking_id(NAME) == 20
    assert isinstance(error, AlreadyTracked), repr(error)
    assert hold.calls == 2  # stopped at its second part: the third and fourth never went


def test_two_workers_past_their_checks_never_take_a_row_back(
    model: Model, views: tuple[Any, Any, DynamoDBClient], table_prefix: str
) -> None:
    """The leading worker has written three parts and holds its last one (the tracking
    update); the lagging one's checks all pass, its parts land in between: row guards."""
    leading, lagging, client = views
    ids = [uuid.uuid4() for _ in range(ROWS)]
    hold = HoldBefore(leading.client, call=4)
    ahead = InThread(lambda: model.save(leading, model.rows(ids, 2), Tracking(NAME, 20)))
    assert hold.reached.wait(30)
    behind = InThread(lambda: model.save(lagging, model.rows(ids, 1), Tracking(NAME, 10)))
    error = behind.join()
    hold.released.set()
    assert ahead.join() is None
    hold.remove()

    assert regressed(client, model, table_prefix, ids) == []
    assert leading.max_tracking_id(NAME) == 20
    assert isinstance(error, IntegrityError), repr(error)
    assert not isinstance(error, AlreadyTracked)  # a row condition: not to be skipped


def test_a_replay_of_a_committed_part_and_the_rest_applies_the_batch(
    model: Model, views: tuple[Any, Any, DynamoDBClient], table_prefix: str
) -> None:
    """A worker dies between two parts and its successor applies the batch again (what the
    projections do: the rows the first parts wrote are newer, the others are written)."""
    first, successor, client = views
    ids = [uuid.uuid4() for _ in range(ROWS)]
    first.client.meta.events.register(TRANSACT, dies := DiesOn(2))
    with pytest.raises(ConnectionError):
        model.save(first, model.rows(ids, 2), Tracking(NAME, 20))
    first.client.meta.events.unregister(TRANSACT, dies)
    assert first.max_tracking_id(NAME) is None
    written = guards(client, model, table_prefix)
    assert len(written) == 99

    remaining = [i for i in ids if i.hex not in written]
    model.save(successor, model.rows(remaining, 2), Tracking(NAME, 20))
    assert guards(client, model, table_prefix) == {i.hex: 2 for i in ids}
    assert successor.max_tracking_id(NAME) == 20


@dataclass
class DiesOn:
    """The process dies before its n-th TransactWriteItems is sent."""

    call: int
    calls: int = 0

    def __call__(self, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls == self.call:
            raise ConnectionError("process killed between transactions")


def test_a_failed_part_is_never_skipped_as_already_tracked(
    model: Model, views: tuple[Any, Any, DynamoDBClient]
) -> None:
    """The classification itself: a row guard failing alone is a plain IntegrityError, the
    tracking condition failing (on a non-final part too) is AlreadyTracked."""
    view, _, _ = views
    ids = [uuid.uuid4() for _ in range(ROWS)]
    model.save(view, model.rows(ids[:1], 5), Tracking(NAME, 5))
    with pytest.raises(IntegrityError) as raised:  # one row newer, tracking advances
        model.save(view, model.rows(ids, 3), Tracking(NAME, 6))
    assert not isinstance(raised.value, AlreadyTracked)
    assert view.max_tracking_id(NAME) == 5
    with pytest.raises(AlreadyTracked):  # the position was recorded: the first part says so
        model.save(view, model.rows(ids[1:], 3), Tracking(NAME, 5))


# A worker meets a row guard --------------------------------------------------------------


def dynamodb_settings(endpoint: str, prefix: str) -> Settings:
    return Settings(store="dynamodb", dynamodb_endpoint_url=endpoint, dynamodb_table_prefix=prefix)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling a worker's attribute: nothing to wait on
    return True


class WinsEveryRace:
    """Another writer that, just before each of the worker's transactions, commits a newer
    version of the first user row the transaction puts (the row guard fails every time)."""

    HOOK = "before-parameter-build.dynamodb.TransactWriteItems"

    def __init__(self, worker_client: DynamoDBClient, other: DynamoDBClient) -> None:
        self.events = worker_client.meta.events
        self.other = other
        self.calls = 0
        self.events.register(self.HOOK, self)

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> None:
        puts = [a["Put"] for a in params["TransactItems"] if "Put" in a]
        if puts:
            self.calls += 1
            item = dict(puts[0]["Item"])
            item["version"] = {"N": str(int(item["version"]["N"]) + 1)}
            self.other.put_item(TableName=puts[0]["TableName"], Item=item)

    def remove(self) -> None:
        self.events.unregister(self.HOOK, self)


def test_a_worker_keeps_failing_on_a_row_guard_and_applies_once_the_cause_is_gone(
    dynamodb_endpoint: str, table_prefix: str
) -> None:
    """While another writer wins every race for a row, the worker's batch fails on its row
    guard each time: it never skips the batch nor moves its checkpoint, and says why
    (`last_error`). Once the other writer is gone, the next retry applies the whole batch."""
    app = FleetApplication(env=application_env(dynamodb_settings(dynamodb_endpoint, table_prefix)))
    other = create_client(dynamodb_endpoint, "us-east-1")
    try:
        view = app.factory.tracking_recorder(DynamoDBUsersView)
        view.create_table()
        meta = EventMetadata(TENANT, "user:x")
        for i in range(150):
            UserService(app).update_my_profile(f"s{i}", UpdateMyProfile(display_name=f"n{i}"), meta)
        head = app.recorder.max_notification_id() or 0
        reader = DynamoDBUsersReader(view.client, table_prefix)
        worker = BatchingProjectionWorker(
            UsersProjection(view, reader),
            checkpoints=view,
            recorder=app.recorder,
            mapper=app.envelope_mapper,
            upstream_name=app.name,
            retry_delay=0.05,
        )
        winner = WinsEveryRace(view.client, other)
        worker.start()
        try:
            assert wait_until(lambda: winner.calls >= 3)  # failed, resumed, failed again...
            assert isinstance(worker.last_error, IntegrityError)
            assert not isinstance(worker.last_error, AlreadyTracked)
            assert worker.position == 0
            assert view.max_tracking_id(worker.tracking_name) is None
            winner.remove()
            assert worker.wait_for(head, timeout=20)
        finally:
            winner.remove()
            worker.stop()
        rows = {row.subject: row for row in reader.tenant_users(TENANT)}
        names = {subject: row.display_name for subject, row in rows.items()}
        assert names == {f"s{i}": f"n{i}" for i in range(150)}
        assert view.max_tracking_id(worker.tracking_name) == head
    finally:
        other.close()
        app.close()


def test_a_rollup_guard_failure_is_not_skipped_by_the_telemetry_worker(
    dynamodb_endpoint: str, table_prefix: str
) -> None:
    """A rollup item the batch creates appears under the worker (another writer) just before
    its transaction: the guard fails. catch_up raises, the position and the checkpoint stay
    where they were; once the item is gone the batch applies exactly once."""
    store = open_store(dynamodb_settings(dynamodb_endpoint, table_prefix))
    try:
        device = uuid.uuid4()
        messages = [
            (f"m{i}", T0 + timedelta(minutes=i), {m: float(i) for m in METRICS}) for i in range(50)
        ]
        head = record_telemetry(store.app, device, messages)
        other = create_client(dynamodb_endpoint, "us-east-1")
        taken: list[dict[str, Any]] = []

        def another_writer(params: dict[str, Any], **kwargs: Any) -> None:
            if taken:
                return
            for action in params["TransactItems"]:
                put = action.get("Put", {})
                if put.get("ConditionExpression") == "attribute_not_exists(pk)":
                    key = {"pk": put["Item"]["pk"], "sk": put["Item"]["sk"]}
                    other.put_item(TableName=put["TableName"], Item={**key, "v": {"N": "0"}})
                    taken.append({"TableName": put["TableName"], "Key": key})
                    return

        hook = "before-parameter-build.dynamodb.TransactWriteItems"
        events = store.view.client.meta.events
        events.register(hook, another_writer)
        worker = store.worker()
        try:
            with pytest.raises(IntegrityError) as raised:
                worker.catch_up()
        finally:
            events.unregister(hook, another_writer)
        assert not isinstance(raised.value, AlreadyTracked)
        assert worker.position == 0
        assert store.view.max_tracking_id(worker.tracking_name) is None

        other.delete_item(**taken[0])
        other.close()
        worker.resume()
        worker.catch_up()
        assert worker.position == head
        assert store.view.max_tracking_id(worker.tracking_name) == head
        assert_matches(store.reader, device, messages)
    finally:
        store.app.close()
