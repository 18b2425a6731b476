"""Contract of `TelemetryReader` (docs/projections.md 8.2), run on SQLite and DynamoDB Local.

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

import uuid
from collections.abc import Iterator
from datetime import timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.settings import Settings
from read_side.telemetry import (
    HistoryQuery,
    Resolution,
)
from tests.hypothesis_profiles import examples
from tests.integration.read_models.telemetry_rows import (
    OTHER,
    SPAN,
    T0,
    TENANT,
    Model,
    expected_rows,
    raw,
    telemetry_model,
    walk,
)


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    yield from telemetry_model(contract_settings)


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
