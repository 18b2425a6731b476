"""Contract of `TelemetryReader` (docs/architecture.md 8.2), run on SQLite and DynamoDB Local.

Readings are recorded as `Telemetry.BatchRecorded` events by `FleetApplication` and applied by
the telemetry projection. Every adapter promises: `readings` answers one device's metric over
`[start, end)` ordered by (device time, message id), values exactly as sent; `buckets` answers
the UTC-aligned buckets whose start lies in `bucket_range(...)`, each the min, max, sum and
count of its readings; at most `first` items a page, a cursor exactly when more follow, and the
cursor resumes right after the last item; a foreign or malformed cursor is `InvalidInput` on
`after`; nothing of another tenant or device is ever answered; `stored_messages` finds the
messages stored in raw history and nothing else.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import _telemetry_store, application_env
from fleetwatch.settings import Settings
from projections.batching import BatchingProjectionWorker
from projections.telemetry import TelemetryProjection
from read_side.device_status import Page, encode_cursor
from read_side.telemetry import (
    BUCKET_SECONDS,
    MAX_HISTORY_PAGE,
    MAX_RANGE,
    ROLLUP_RESOLUTIONS,
    Bucket,
    HistoryQuery,
    RawReading,
    Resolution,
    TelemetryReader,
    encode_bucket_cursor,
    encode_reading_cursor,
    epoch_ms,
)
from tests.hypothesis_profiles import examples
from write_side.application import FleetApplication
from write_side.errors import InvalidInput
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

TENANT, OTHER = "acme", "globex"
T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # the data crosses hours and a UTC day
SPAN = timedelta(hours=3)
Message = tuple[str, datetime, dict[str, float]]
Row = tuple[int, str, float]  # at_ms, message id, value


def messages_of_a() -> list[Message]:
    """Device A: a reading every 7 min 13 ms over three hours (hum on every other one), two
    messages at the same millisecond (ordered by id), one on the hour, extreme values."""
    found: list[Message] = []
    for k in range(26):
        at = T0 + timedelta(minutes=7 * k, milliseconds=13 * k)
        metrics = {"temp": round(20 + k * 0.37 - (k % 4) * 1.1, 3)}
        if k % 2 == 0:
            metrics["hum"] = float(40 + k)
        found.append((f"a{k:02d}", at, metrics))
    same_ms = T0 + timedelta(minutes=33, milliseconds=500)
    found += [
        ("z-same", same_ms, {"temp": -3.5}),
        ("b-same", same_ms, {"temp": 7.25}),
        ("on-the-hour", T0 + timedelta(hours=1), {"temp": 1e-200, "hum": 0.0}),
        ("huge", T0 + timedelta(hours=2, minutes=1), {"temp": 1.5e300}),
    ]
    return found


@dataclass
class Model:
    app: FleetApplication
    reader: TelemetryReader
    a: uuid.UUID
    b: uuid.UUID
    messages: list[Message]  # device A's in the tenant
    b_messages: list[Message]
    other_messages: list[Message]  # device A's id in the other tenant


def record(
    app: FleetApplication, tenant: str, device_id: uuid.UUID, sent: Sequence[Message]
) -> int:
    stream_id = telemetry_id(tenant, device_id)
    telemetry = app.load_telemetry(stream_id) or Telemetry(tenant_id=tenant, device_id=device_id)
    entries = [
        BatchEntry(mid, at, tuple(Reading(m, v, at) for m, v in metrics.items()))
        for mid, at, metrics in sent
    ]
    telemetry.record(entries, T0 + SPAN, "http")
    return app.save_telemetry([telemetry], EventMetadata(tenant, "system:ingestion"))[stream_id]


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = _telemetry_store(app, contract_settings)
    a, b = uuid.uuid4(), uuid.uuid4()
    messages = messages_of_a()
    # Several events, out of time order, so an hour holds parts of many events.
    for part in (messages[1::3], messages[0::3], messages[2::3]):
        record(app, TENANT, a, part)
    b_messages = [(f"b{k}", T0 + timedelta(minutes=k), {"temp": 100.0 + k}) for k in range(5)]
    record(app, TENANT, b, b_messages)
    other_messages: list[Message] = [
        (mid, at, {"temp": -v["temp"]}) for mid, at, v in messages[:4]
    ]  # same device id, same message ids and times: another tenant's device
    record(app, OTHER, a, other_messages)
    worker = BatchingProjectionWorker(
        TelemetryProjection(view),
        checkpoints=view,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        max_batch=2,
    )
    assert worker.catch_up() > 0
    yield Model(app, reader, a, b, messages, b_messages, other_messages)
    app.close()


def expected_rows(
    messages: Sequence[Message], metric: str, start: datetime, end: datetime
) -> list[Row]:
    low, high = epoch_ms(start), epoch_ms(end)
    return sorted(
        (epoch_ms(at), mid, metrics[metric])
        for mid, at, metrics in messages
        if metric in metrics and low <= epoch_ms(at) < high
    )


def expected_buckets(
    messages: Sequence[Message], metric: str, query: HistoryQuery
) -> list[tuple[int, float, float, float, int]]:
    """(start s, min, max, sum, count) of the buckets whose start is in `[align(start), end)`."""
    seconds = BUCKET_SECONDS[query.resolution]
    low = epoch_ms(query.start) // 1000 // seconds * seconds
    high = -(-epoch_ms(query.end) // 1000)
    grouped: dict[int, list[float]] = {}
    for _, at, metrics in messages:
        if metric in metrics:
            grouped.setdefault(epoch_ms(at) // 1000 // seconds * seconds, []).append(
                metrics[metric]
            )
    return [
        (s, min(v), max(v), sum(v), len(v)) for s, v in sorted(grouped.items()) if low <= s < high
    ]


def walk(reader: TelemetryReader, query: HistoryQuery, tenant: str = TENANT) -> list[Any]:
    """Every page of a history, checking each page's promises on the way."""
    found: list[Any] = []
    for _ in range(500):
        page: Page[RawReading] | Page[Bucket] = reader.history(tenant, query)
        assert len(page.items) <= query.first
        found += page.items
        if page.next_cursor is None:
            break
        assert len(page.items) == query.first  # only a full page says there is more
        last = page.items[-1]
        if isinstance(last, RawReading):
            assert page.next_cursor == encode_reading_cursor(epoch_ms(last.at), last.message_id)
        else:
            assert page.next_cursor == encode_bucket_cursor(epoch_ms(last.start) // 1000)
        query = replace(query, after=page.next_cursor)
    else:
        raise AssertionError("more than 500 pages")
    if query.resolution is Resolution.RAW:
        return [(epoch_ms(r.at), r.message_id, r.value) for r in found]
    return found


def raw(
    device: uuid.UUID, metric: str, start: datetime, end: datetime, first: int = 500
) -> HistoryQuery:
    return HistoryQuery.checked(device, metric, start, end, first=first)


# Raw readings ------------------------------------------------------------------------------


def test_readings_answer_every_value_exactly_in_time_then_message_id_order(model: Model) -> None:
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    for metric in ("temp", "hum"):
        got = walk(model.reader, raw(model.a, metric, start, end))
        assert got == expected_rows(model.messages, metric, start, end)
    same = [
        row[1] for row in walk(model.reader, raw(model.a, "temp", start, end)) if "same" in row[1]
    ]
    assert same == ["b-same", "z-same"]


def test_a_range_is_half_open_start_in_and_end_out(model: Model) -> None:
    on_the_hour = T0 + timedelta(hours=1)
    got = walk(
        model.reader, raw(model.a, "temp", on_the_hour, on_the_hour + timedelta(milliseconds=1))
    )
    assert [row[1] for row in got] == ["on-the-hour"]
    before = walk(
        model.reader, raw(model.a, "temp", on_the_hour - timedelta(minutes=10), on_the_hour)
    )
    assert before
    assert "on-the-hour" not in [row[1] for row in before]
    assert before == expected_rows(
        model.messages, "temp", on_the_hour - timedelta(minutes=10), on_the_hour
    )


def test_a_range_in_another_time_zone_is_the_same_instants(model: Model) -> None:
    plus_two = timezone(timedelta(hours=2))
    start, end = T0 + timedelta(minutes=20), T0 + timedelta(hours=1, minutes=50)
    shifted = raw(model.a, "temp", start.astimezone(plus_two), end.astimezone(plus_two))
    assert walk(model.reader, shifted) == expected_rows(model.messages, "temp", start, end)


@settings(max_examples=examples(20), deadline=None)
@given(
    start=st.integers(-60_000, int(SPAN.total_seconds() * 1000)),
    length=st.integers(1, int(SPAN.total_seconds() * 1000) + 60_000),
    first=st.integers(1, 9),
    metric=st.sampled_from(["temp", "hum"]),
)
def test_any_page_size_walks_every_reading_of_any_range_once_in_order(
    model: Model, start: int, length: int, first: int, metric: str
) -> None:
    begin = T0 + timedelta(milliseconds=start)
    end = begin + timedelta(milliseconds=length)
    got = walk(model.reader, raw(model.a, metric, begin, end, first))
    assert got == expected_rows(model.messages, metric, begin, end)


# Rollups -----------------------------------------------------------------------------------


def assert_buckets(
    got: Sequence[Bucket], expected: Sequence[tuple[int, float, float, float, int]], seconds: int
) -> None:
    assert [epoch_ms(b.start) // 1000 for b in got] == [e[0] for e in expected]
    for bucket, (_, mn, mx, sm, ct) in zip(got, expected, strict=True):
        assert (bucket.min, bucket.max, bucket.count, bucket.seconds) == (mn, mx, ct, seconds)
        assert math.isclose(bucket.sum, sm, rel_tol=1e-12)
        assert bucket.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize("resolution", ROLLUP_RESOLUTIONS, ids=str)
def test_buckets_answer_the_aggregates_of_each_aligned_bucket(
    model: Model, resolution: Resolution
) -> None:
    # Starts inside a bucket (aligned down: that bucket counts), ends inside one (it counts too).
    start, end = T0 + timedelta(minutes=30, seconds=30), T0 + timedelta(hours=2, seconds=1)
    query = HistoryQuery.checked(model.a, "temp", start, end, resolution=resolution)
    got = walk(model.reader, query)
    expected = expected_buckets(model.messages, "temp", query)
    assert expected
    assert_buckets(got, expected, BUCKET_SECONDS[resolution])


def test_a_bucket_starting_at_the_end_of_the_range_is_out(model: Model) -> None:
    end = T0 + timedelta(hours=1)  # a reading lies exactly there
    query = HistoryQuery.checked(model.a, "temp", T0, end, resolution=Resolution.HOUR)
    got = walk(model.reader, query)
    assert [b.start for b in got] == [T0]


@settings(max_examples=examples(15), deadline=None)
@given(
    start=st.integers(0, int(SPAN.total_seconds())),
    length=st.integers(1, int(SPAN.total_seconds()) + 120),
    first=st.integers(1, 6),
)
def test_any_page_size_walks_every_bucket_once_in_order(
    model: Model, start: int, length: int, first: int
) -> None:
    begin = T0 + timedelta(seconds=start)
    query = HistoryQuery.checked(
        model.a,
        "temp",
        begin,
        begin + timedelta(seconds=length),
        resolution=Resolution.MINUTE,
        first=first,
    )
    got = walk(model.reader, query)
    assert_buckets(got, expected_buckets(model.messages, "temp", query), 60)


# Tenants, devices, metrics -----------------------------------------------------------------


def test_nothing_of_another_tenant_or_device_is_answered(model: Model) -> None:
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=4)
    assert walk(model.reader, raw(model.a, "temp", start, end), OTHER) == expected_rows(
        model.other_messages, "temp", start, end
    )
    assert walk(model.reader, raw(model.b, "temp", start, end)) == expected_rows(
        model.b_messages, "temp", start, end
    )
    assert walk(model.reader, raw(model.b, "temp", start, end), OTHER) == []
    assert walk(model.reader, raw(uuid.uuid4(), "temp", start, end)) == []
    assert walk(model.reader, raw(model.a, "volt", start, end)) == []
    day = HistoryQuery.checked(model.a, "temp", start, end, resolution=Resolution.DAY)
    other_days = walk(model.reader, day, OTHER)
    assert [b.count for b in other_days] == [len(model.other_messages)]
    assert walk(model.reader, day, "nobody") == []


def test_stored_messages_finds_the_devices_stored_messages_only(model: Model) -> None:
    mid, at, metrics = model.messages[5]
    metric = next(iter(metrics))
    late_only = model.messages[20]  # not among the other tenant's messages
    asked = [
        (at, mid, metric),
        (late_only[1], late_only[0], "temp"),
        (at, "never-sent", metric),
        (at + timedelta(hours=1), mid, metric),  # right id, wrong time
    ]
    assert model.reader.stored_messages(TENANT, model.a, asked) == {mid, late_only[0]}
    assert model.reader.stored_messages(OTHER, model.a, asked) == set()
    assert model.reader.stored_messages(TENANT, model.b, asked) == set()
    assert model.reader.stored_messages(TENANT, model.a, []) == set()


# Cursors and limits ------------------------------------------------------------------------


def test_a_cursor_past_the_range_gives_an_empty_last_page(model: Model) -> None:
    start, end = T0, T0 + timedelta(hours=1)
    beyond = encode_reading_cursor(epoch_ms(end) + 5, "zzz")
    page = model.reader.readings(TENANT, replace(raw(model.a, "temp", start, end), after=beyond))
    assert (page.items, page.next_cursor) == ([], None)
    bucket_beyond = encode_bucket_cursor(epoch_ms(end) // 1000)
    hourly = HistoryQuery.checked(model.a, "temp", start, end, resolution=Resolution.MINUTE)
    page2 = model.reader.buckets(TENANT, replace(hourly, after=bucket_beyond))
    assert (page2.items, page2.next_cursor) == ([], None)


def test_a_cursor_before_the_range_starts_at_the_range(model: Model) -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    early = encode_reading_cursor(epoch_ms(T0) - 1, "m")
    query = replace(raw(model.a, "temp", start, end), after=early)
    assert walk(model.reader, query) == expected_rows(model.messages, "temp", start, end)


FOREIGN = {
    "bucket cursor on raw": (Resolution.RAW, encode_bucket_cursor(0)),
    "reading cursor on buckets": (Resolution.HOUR, encode_reading_cursor(0, "m")),
    "device cursor on raw": (Resolution.RAW, encode_cursor(uuid.uuid4())),
    "device cursor on buckets": (Resolution.DAY, encode_cursor(uuid.uuid4())),
    "garbage on raw": (Resolution.RAW, "%%%"),
    "empty on buckets": (Resolution.MINUTE, ""),
}


@pytest.mark.parametrize(("resolution", "cursor"), FOREIGN.values(), ids=FOREIGN.keys())
def test_a_foreign_or_malformed_cursor_is_invalid_input_on_after(
    model: Model, resolution: Resolution, cursor: str
) -> None:
    """Refused by `HistoryQuery.checked`, and by the reader when a query skipped it."""
    start, end = T0, T0 + timedelta(hours=1)
    with pytest.raises(InvalidInput) as checked:
        HistoryQuery.checked(model.a, "temp", start, end, resolution=resolution, after=cursor)
    assert checked.value.field == "after"
    with pytest.raises(InvalidInput) as read:
        model.reader.history(
            TENANT, HistoryQuery(model.a, "temp", start, end, resolution, 10, cursor)
        )
    assert read.value.field == "after"


LIMITS = {
    "first 0": ({"first": 0}, "first"),
    "first too big": ({"first": MAX_HISTORY_PAGE + 1}, "first"),
    "empty range": ({"end": T0}, "to"),
    "raw range too long": ({"end": T0 + MAX_RANGE[Resolution.RAW] + timedelta(seconds=1)}, "to"),
    "1d range too long": (
        {"end": T0 + MAX_RANGE[Resolution.DAY] + timedelta(days=1), "resolution": Resolution.DAY},
        "to",
    ),
    "bad metric": ({"metric": "no spaces"}, "metric"),
    "from beyond UTC": ({"start": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))}, "from"),
}


@pytest.mark.parametrize(("changes", "field"), LIMITS.values(), ids=LIMITS.keys())
def test_a_query_out_of_its_limits_is_invalid_input_on_the_argument_at_fault(
    changes: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {
        "device_id": uuid.uuid4(),
        "metric": "temp",
        "start": T0,
        "end": T0 + timedelta(hours=1),
    } | changes
    with pytest.raises(InvalidInput) as raised:
        HistoryQuery.checked(**arguments)
    assert raised.value.field == field


def test_the_largest_page_and_longest_range_are_accepted(model: Model) -> None:
    end = T0 + MAX_RANGE[Resolution.RAW]
    query = HistoryQuery.checked(model.a, "hum", T0, end, first=MAX_HISTORY_PAGE)
    page = model.reader.history(TENANT, query)
    assert page.next_cursor is None
    assert [(epoch_ms(r.at), r.message_id, r.value) for r in page.items] == expected_rows(
        model.messages, "hum", T0, end
    )
