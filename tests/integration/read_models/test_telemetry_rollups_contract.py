"""Contract of `TelemetryReader`'s rollups and of the cursors and limits of its histories
(docs/projections.md 8.2), run on SQLite and DynamoDB Local. What every adapter promises is
in `test_telemetry_contract.py`; the readings, walks and oracles come from `telemetry_rows`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.settings import Settings
from read_side.device_status import encode_cursor
from read_side.telemetry import (
    BUCKET_SECONDS,
    MAX_HISTORY_PAGE,
    MAX_RANGE,
    ROLLUP_RESOLUTIONS,
    HistoryQuery,
    Resolution,
    encode_bucket_cursor,
    encode_reading_cursor,
    epoch_ms,
)
from tests.hypothesis_profiles import examples
from tests.integration.read_models.telemetry_rows import (
    SPAN,
    T0,
    TENANT,
    Model,
    assert_buckets,
    expected_buckets,
    expected_rows,
    raw,
    telemetry_model,
    walk,
)
from write_side.errors import InvalidInput


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    yield from telemetry_model(contract_settings)


# Rollups -----------------------------------------------------------------------------------


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
