"""The telemetry projection against real stores (SQLite file, DynamoDB Local): raw range reads
and rollups equal a brute-force aggregation of the same readings, paging, tenant isolation,
rebuild identical, a killed worker resumes without counting anything twice, and (DynamoDB) an
event too big for one transaction survives a crash between its transactions."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_store.envelope import EventEnvelope, EventMetadata
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from projections.batching import BatchingProjectionWorker
from projections.telemetry import TelemetryProjection
from read_side.telemetry import (
    BUCKET_SECONDS,
    ROLLUP_RESOLUTIONS,
    Bucket,
    HistoryQuery,
    RawReading,
    Resolution,
    TelemetryReader,
    epoch_ms,
    from_epoch_ms,
)
from tests.hypothesis_profiles import examples
from write_side.application import FleetApplication
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TENANT = "acme"
METRICS = ("temp", "hum", "volt")
Message = tuple[str, datetime, dict[str, float]]


@dataclass
class Store:
    app: FleetApplication
    view: Any
    reader: TelemetryReader

    def worker(
        self, projection: TelemetryProjection | None = None, max_batch: int = 1000
    ) -> BatchingProjectionWorker:
        return BatchingProjectionWorker(
            projection or TelemetryProjection(self.view),
            checkpoints=self.view,
            recorder=self.app.recorder,
            mapper=self.app.envelope_mapper,
            upstream_name=self.app.name,
            max_batch=max_batch,
        )


def open_store(settings: Settings) -> Store:
    app = FleetApplication(env=application_env(settings))
    view, reader = open_read_model(app, settings, "telemetry")
    return Store(app, view, reader)


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    settings = store_settings
    opened = open_store(settings)
    yield opened
    opened.app.close()


def record(
    app: FleetApplication, device_id: uuid.UUID, messages: Sequence[Message], tenant: str = TENANT
) -> int:
    """Store `messages` through the device's Telemetry aggregate; returns the feed position."""
    stream_id = telemetry_id(tenant, device_id)
    telemetry = app.load_telemetry(stream_id) or Telemetry(tenant_id=tenant, device_id=device_id)
    entries = [
        BatchEntry(mid, at, tuple(Reading(m, v, at) for m, v in metrics.items()))
        for mid, at, metrics in messages
    ]
    telemetry.record(entries, T0 + timedelta(days=10), "http")
    positions = app.save_telemetry([telemetry], EventMetadata(tenant, "system:ingestion"))
    return positions[stream_id]


def random_messages(rng: random.Random, count: int, span: timedelta, prefix: str) -> list[Message]:
    """Messages at random (unordered) times over `span`, each with some of the metrics."""
    seconds = int(span.total_seconds())
    messages = []
    for i in range(count):
        at = T0 + timedelta(seconds=rng.randrange(seconds), milliseconds=rng.randrange(1000))
        names = rng.sample(METRICS, rng.randint(1, len(METRICS)))
        messages.append((f"{prefix}-{i}", at, {m: round(rng.uniform(-50, 50), 3) for m in names}))
    return messages


def send_in_batches(
    app: FleetApplication, device_id: uuid.UUID, messages: list[Message], rng: random.Random
) -> None:
    start = 0
    while start < len(messages):
        size = rng.randint(1, 40)
        record(app, device_id, messages[start : start + size])
        start += size


def expected_readings(messages: Sequence[Message], metric: str) -> list[tuple[int, str, float]]:
    return sorted(
        (epoch_ms(at), mid, metrics[metric]) for mid, at, metrics in messages if metric in metrics
    )


def expected_buckets(
    messages: Sequence[Message], metric: str, resolution: Resolution
) -> dict[int, tuple[float, float, float, int]]:
    seconds = BUCKET_SECONDS[resolution]
    grouped: dict[int, list[float]] = {}
    for at_ms, _, value in expected_readings(messages, metric):
        grouped.setdefault(at_ms // 1000 // seconds * seconds, []).append(value)
    return {start: (min(v), max(v), sum(v), len(v)) for start, v in sorted(grouped.items())}


def all_readings(
    reader: TelemetryReader, device_id: uuid.UUID, metric: str, first: int = 5000,
    start: datetime = T0 - timedelta(days=1), end: datetime = T0 + timedelta(days=6),
    tenant: str = TENANT,
) -> list[RawReading]:  # fmt: skip
    found: list[RawReading] = []
    after = None
    while True:
        query = HistoryQuery(device_id, metric, start, end, Resolution.RAW, first, after)
        page = reader.readings(tenant, query)
        found += page.items
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def all_buckets(
    reader: TelemetryReader, device_id: uuid.UUID, metric: str, resolution: Resolution,
    first: int = 5000, tenant: str = TENANT,
) -> list[Bucket]:  # fmt: skip
    found: list[Bucket] = []
    after = None
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=6)
    while True:
        page = reader.buckets(
            tenant, HistoryQuery(device_id, metric, start, end, resolution, first, after)
        )
        found += page.items
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def assert_matches(reader: TelemetryReader, device_id: uuid.UUID, messages: list[Message]) -> None:
    for metric in METRICS:
        got = [
            (epoch_ms(r.at), r.message_id, r.value) for r in all_readings(reader, device_id, metric)
        ]
        assert got == expected_readings(messages, metric)
        for resolution in ROLLUP_RESOLUTIONS:
            buckets = {
                epoch_ms(b.start) // 1000: b
                for b in all_buckets(reader, device_id, metric, resolution)
            }
            expected = expected_buckets(messages, metric, resolution)
            assert list(buckets) == list(expected)
            for start, (mn, mx, sm, ct) in expected.items():
                bucket = buckets[start]
                assert (bucket.min, bucket.max, bucket.count) == (mn, mx, ct)
                assert math.isclose(bucket.sum, sm, rel_tol=1e-9, abs_tol=1e-9)
                assert math.isclose(bucket.avg, sm / ct, rel_tol=1e-9, abs_tol=1e-9)
                assert bucket.end - bucket.start == timedelta(seconds=BUCKET_SECONDS[resolution])


def snapshot(reader: TelemetryReader, device_id: uuid.UUID) -> list[Any]:
    return [
        (
            all_readings(reader, device_id, m),
            [all_buckets(reader, device_id, m, r) for r in ROLLUP_RESOLUTIONS],
        )
        for m in METRICS
    ]


def test_reads_match_a_brute_force_aggregation(store: Store) -> None:
    rng = random.Random(4)
    device, other = uuid.uuid4(), uuid.uuid4()
    messages = random_messages(rng, 240, timedelta(days=3), "a")
    send_in_batches(store.app, device, messages, rng)
    record(store.app, other, [("x", T0, {"temp": 99.0})])
    record(store.app, device, [("y", T0, {"temp": -99.0})], tenant="globex")
    assert store.worker().catch_up() > 0
    assert_matches(store.reader, device, messages)
    assert [r.value for r in all_readings(store.reader, other, "temp")] == [99.0]
    globex = all_readings(store.reader, device, "temp", tenant="globex")
    assert [r.value for r in globex] == [-99.0]
    # Small pages, and a range that starts and ends inside the data.
    start, end = T0 + timedelta(hours=7, seconds=30), T0 + timedelta(days=1, hours=2)
    expected = [
        r for r in expected_readings(messages, "temp") if epoch_ms(start) <= r[0] < epoch_ms(end)
    ]
    paged = all_readings(store.reader, device, "temp", first=7, start=start, end=end)
    assert [(epoch_ms(r.at), r.message_id, r.value) for r in paged] == expected
    hourly = all_buckets(store.reader, device, "hum", Resolution.HOUR, first=5)
    assert len(hourly) == len(expected_buckets(messages, "hum", Resolution.HOUR))
    nothing = HistoryQuery(device, "nope", T0, T0 + timedelta(days=3), Resolution.RAW, 10)
    assert store.reader.readings(TENANT, nothing).items == []


class Crashing(TelemetryProjection):
    """Records the positions it committed; dies once it meets `crash_at`."""

    def __init__(self, view: Any, crash_at: int | None = None) -> None:
        super().__init__(view)
        self.crash_at = crash_at
        self.committed: list[int] = []

    def process_batch(self, envelopes: Sequence[EventEnvelope], tracking: Tracking) -> list[Any]:
        positions = [e.position or 0 for e in envelopes]
        if self.crash_at is not None and self.crash_at in positions:
            raise RuntimeError("worker killed")
        notices = super().process_batch(envelopes, tracking)
        self.committed += positions
        return notices


def test_killed_worker_resumes_and_rebuild_is_identical(store: Store) -> None:
    rng = random.Random(7)
    device = uuid.uuid4()
    messages = random_messages(rng, 120, timedelta(days=2), "k")
    send_in_batches(store.app, device, messages, rng)
    head = store.app.recorder.max_notification_id() or 0
    first = Crashing(store.view, crash_at=head // 2 + 1)
    with pytest.raises(RuntimeError, match="killed"):
        store.worker(first, max_batch=3).catch_up()
    second = Crashing(store.view)
    resumed = store.worker(second, max_batch=3)
    assert 0 < resumed.position < head  # from the committed checkpoint
    resumed.catch_up()
    assert not set(first.committed) & set(second.committed)
    assert_matches(store.reader, device, messages)  # nothing counted twice, nothing lost
    before = snapshot(store.reader, device)
    rebuilt = store.worker()
    store.view.reset(rebuilt.tracking_name)
    assert all_readings(store.reader, device, "temp") == []
    rebuilt.rewind()
    rebuilt.catch_up()
    assert snapshot(store.reader, device) == before


def test_live_worker_publishes_one_notice_per_event(store: Store) -> None:
    class Collect:
        def __init__(self) -> None:
            self.notices: list[Any] = []

        def publish(self, notice: Any) -> None:
            self.notices.append(notice)

    collect = Collect()
    worker = store.worker()
    worker.publisher = collect  # type: ignore[assignment]
    worker.start()
    try:
        device = uuid.uuid4()
        batch = [(f"m{i}", T0 + timedelta(seconds=i), {"temp": float(i)}) for i in range(50)]
        position = record(store.app, device, batch)
        assert worker.wait_for(position, timeout=10)
    finally:
        worker.stop()
    [notice] = collect.notices
    assert (notice.topic, notice.key, notice.position) == (
        f"telemetry:{device}",
        str(device),
        position,
    )
    assert len(notice.data["messages"]) == 50


def test_an_event_bigger_than_a_transaction_is_never_counted_twice(
    request: pytest.FixtureRequest,
) -> None:
    """500 entries, each in its own minute, 3 metrics: ~1,500 rollup items, so many DynamoDB
    transactions. The process dies after some of them; the replay must not double-count."""
    store = open_store(
        Settings(
            store="dynamodb",
            dynamodb_endpoint_url=request.getfixturevalue("dynamodb_endpoint"),
            dynamodb_table_prefix=request.getfixturevalue("table_prefix"),
        )
    )
    try:
        device = uuid.uuid4()
        messages = [
            (f"b{i}", T0 + timedelta(minutes=i, seconds=7), {m: float(i % 17) for m in METRICS})
            for i in range(500)
        ]
        record(store.app, device, messages)
        calls = {"n": 0}

        def dies_on_the_fourth(**kwargs: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 4:  # before sending: the first three parts are committed
                raise ConnectionError("process killed between transactions")

        events = store.view.client.meta.events
        events.register("before-call.dynamodb.TransactWriteItems", dies_on_the_fourth)
        try:
            with pytest.raises(ConnectionError):
                store.worker().catch_up()
        finally:
            events.unregister("before-call.dynamodb.TransactWriteItems", dies_on_the_fourth)
        store.worker().catch_up()
        assert calls["n"] == 4
        assert_matches(store.reader, device, messages)
    finally:
        store.app.close()


@settings(
    max_examples=examples(12),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 2 * 86400 * 1000),
                st.dictionaries(st.sampled_from(METRICS), st.floats(-1e9, 1e9), min_size=1),
            ),
            min_size=1,
            max_size=30,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_rollups_equal_brute_force_for_any_readings(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[int, dict[str, float]]]]
) -> None:
    path = tmp_path_factory.mktemp("h") / "fleet.sqlite3"
    store = open_store(Settings(store="sqlite", sqlite_path=path))
    try:
        device = uuid.uuid4()
        messages: list[Message] = []
        for b, batch in enumerate(batches):
            sent = [
                (f"{b}-{i}", from_epoch_ms(epoch_ms(T0) + at), m) for i, (at, m) in enumerate(batch)
            ]
            record(store.app, device, sent)
            messages += sent
        store.worker(max_batch=2).catch_up()
        assert_matches(store.reader, device, messages)
    finally:
        store.app.close()
