"""Telemetry folding is pure: bucket boundaries, out-of-order readings, min/max/sum/count, and
the validation of history queries. No I/O."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_store.envelope import EventEnvelope
from read_side.telemetry import (
    HistoryQuery,
    Resolution,
    bucket_range,
    bucket_start,
    decode_bucket_cursor,
    decode_reading_cursor,
    encode_bucket_cursor,
    encode_reading_cursor,
    epoch_ms,
    from_epoch_ms,
)
from read_side.telemetry.batch import (
    DeviceBatch,
    RawEntry,
    RollupKey,
    Stats,
    fold,
    merge_rollups,
    rollup,
    without_repeats,
)
from tests.hypothesis_profiles import examples
from tests.unit.envelopes import recorded
from write_side.errors import InvalidInput

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MINUTE, HOUR, DAY = Resolution.MINUTE, Resolution.HOUR, Resolution.DAY
DEVICE = uuid.uuid4()


def ms(at: datetime) -> int:
    return epoch_ms(at)


def entry(at: datetime, message_id: str = "m", **metrics: float) -> RawEntry:
    return RawEntry(ms(at), message_id, metrics)


def test_bucket_boundaries_are_utc_aligned_and_half_open() -> None:
    last_ms_of_minute = ms(T0 + timedelta(seconds=59, microseconds=999_000))
    assert bucket_start(last_ms_of_minute, 60) == ms(T0) // 1000
    assert bucket_start(ms(T0 + timedelta(minutes=1)), 60) == ms(T0) // 1000 + 60
    late = T0 + timedelta(hours=23, minutes=59, seconds=59)
    assert bucket_start(ms(late), 3600) == ms(T0) // 1000 + 23 * 3600
    assert bucket_start(ms(late), 86400) == ms(T0) // 1000
    assert bucket_start(ms(T0 + timedelta(days=1)), 86400) == ms(T0) // 1000 + 86400


def test_times_with_an_offset_are_bucketed_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local_midnight = datetime(2026, 3, 2, 0, 30, tzinfo=plus_two)  # 22:30 UTC on March 1st
    keys = rollup([entry(local_midnight, t=1.0)])
    assert RollupKey("t", DAY, ms(T0) // 1000) in keys
    assert RollupKey("t", HOUR, ms(T0) // 1000 + 22 * 3600) in keys


def test_rollup_min_max_sum_count_per_bucket() -> None:
    entries = [
        entry(T0 + timedelta(seconds=10), "a", temp=20.0, hum=40.0),
        entry(T0 + timedelta(seconds=50), "b", temp=24.0),
        entry(T0 + timedelta(seconds=70), "c", temp=30.0),
    ]
    keys = rollup(entries)
    start = ms(T0) // 1000
    assert keys[RollupKey("temp", MINUTE, start)] == Stats(20.0, 24.0, 44.0, 2)
    assert keys[RollupKey("temp", MINUTE, start + 60)] == Stats(30.0, 30.0, 30.0, 1)
    assert keys[RollupKey("temp", HOUR, start)] == Stats(20.0, 30.0, 74.0, 3)
    assert keys[RollupKey("hum", DAY, start)] == Stats(40.0, 40.0, 40.0, 1)
    assert len(keys) == 2 + 1 + 1 + 3  # temp: 2 minutes, 1 hour, 1 day; hum: 1 of each


def test_out_of_order_readings_land_in_their_own_buckets() -> None:
    late = entry(T0 + timedelta(hours=5), "late", temp=1.0)
    early = entry(T0 + timedelta(minutes=3), "early", temp=9.0)
    assert rollup([late, early]) == rollup([early, late])
    keys = rollup([late, early])
    assert keys[RollupKey("temp", HOUR, ms(T0) // 1000)] == Stats(9.0, 9.0, 9.0, 1)
    assert keys[RollupKey("temp", HOUR, ms(T0) // 1000 + 5 * 3600)] == Stats(1.0, 1.0, 1.0, 1)


readings = st.lists(
    st.tuples(
        st.integers(0, 3 * 86400 * 1000),
        st.sampled_from(["temp", "hum", "v"]),
        st.floats(-1e6, 1e6, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=examples(100), deadline=None)
@given(readings, st.integers(0, 60))
def test_rollups_equal_brute_force_and_merge_in_any_split(
    data: list[tuple[int, str, float]], split: int
) -> None:
    base = ms(T0)
    entries = [RawEntry(base + at, f"m{i}", {m: v}) for i, (at, m, v) in enumerate(data)]
    whole = rollup(entries)
    split_merged = merge_rollups(rollup(entries[:split]), rollup(entries[split:]))
    assert split_merged.keys() == whole.keys()
    for resolution, seconds in ((MINUTE, 60), (HOUR, 3600), (DAY, 86400)):
        for key in [k for k in whole if k.resolution is resolution]:
            values = [
                v
                for at, m, v in data
                if m == key.metric and (base + at) // 1000 // seconds * seconds == key.start_s
            ]
            got = whole[key]
            assert (got.min, got.max, got.count) == (min(values), max(values), len(values))
            assert math.isclose(got.sum, sum(values), rel_tol=1e-9, abs_tol=1e-6)
            other = split_merged[key]
            assert (other.min, other.max, other.count) == (got.min, got.max, got.count)


def envelope(entries: list[dict[str, Any]], version: int = 3) -> EventEnvelope:
    payload = {
        "device_id": str(DEVICE),
        "entries": entries,
        "received_at": (T0 + timedelta(hours=6)).isoformat(),
        "transport": "http",
    }
    return recorded(
        "Telemetry.BatchRecorded",
        payload,
        stream_id=uuid.uuid4(),
        version=version,
        at=T0,
        actor="system:ingestion",
        position=42,
    )


def test_fold_reads_an_event_payload() -> None:
    batch = fold(
        envelope(
            [
                {"message_id": "b", "at": (T0 + timedelta(minutes=2)).isoformat(),
                 "metrics": {"temp": 2}, "status": {"battery": 80.0}},
                {"message_id": "a", "at": T0.isoformat(), "metrics": {"temp": 1.5},
                 "status": {}},
            ]
        )
    )  # fmt: skip
    assert (batch.tenant_id, batch.device_id, batch.version, batch.position) == (
        "acme",
        DEVICE,
        3,
        42,
    )
    assert [e.message_id for e in batch.entries] == ["b", "a"]
    assert batch.reading_count == 2
    assert batch.rollups[RollupKey("temp", HOUR, ms(T0) // 1000)] == Stats(1.5, 2.0, 3.5, 2)
    assert batch.status[0] == {"battery": 80.0}


def test_epoch_ms_round_trips_and_truncates_below_a_millisecond() -> None:
    at = T0 + timedelta(microseconds=1_234_567)
    assert from_epoch_ms(ms(at)) == T0 + timedelta(milliseconds=1234)
    assert epoch_ms(datetime(2026, 3, 1)) == ms(T0)  # naive is UTC


def test_cursors_round_trip_and_reject_garbage() -> None:
    assert decode_reading_cursor(encode_reading_cursor(123, "msg-é")) == (123, "msg-é")
    assert decode_bucket_cursor(encode_bucket_cursor(3600)) == 3600
    for bad in ("", "!!", encode_bucket_cursor(1)):
        with pytest.raises(InvalidInput) as caught:
            decode_reading_cursor(bad)
        assert caught.value.field == "after"
    with pytest.raises(InvalidInput):
        decode_bucket_cursor(encode_reading_cursor(1, "x"))


def test_bucket_range_aligns_the_start_down_and_keeps_the_end_exclusive() -> None:
    start = T0 + timedelta(minutes=90)
    low, high = bucket_range(HOUR, start, start + timedelta(hours=1))
    assert low == ms(T0) // 1000 + 3600
    assert high == ms(T0) // 1000 + 9000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metric": "no spaces"}, "metric"),
        ({"end": T0}, "to"),
        ({"end": T0 - timedelta(seconds=1)}, "to"),
        ({"end": T0 + timedelta(days=40)}, "to"),
        ({"first": 0}, "first"),
        ({"first": 5001}, "first"),
        ({"after": "garbage"}, "after"),
        ({"after": encode_bucket_cursor(1)}, "after"),  # a bucket cursor on a RAW query
    ],
)
def test_history_queries_are_checked(changes: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "device_id": DEVICE,
        "metric": "temp",
        "start": T0,
        "end": T0 + timedelta(days=1),
        "resolution": Resolution.RAW,
        "first": 100,
        "after": None,
    }
    with pytest.raises(InvalidInput) as caught:
        HistoryQuery.checked(**(args | changes))
    assert caught.value.field == field


def test_coarser_resolutions_allow_longer_ranges() -> None:
    query = HistoryQuery.checked(
        DEVICE, "temp", T0, T0 + timedelta(days=365), resolution=Resolution.HOUR
    )
    assert query.resolution is HOUR
    naive = HistoryQuery.checked(DEVICE, "temp", datetime(2026, 3, 1), datetime(2026, 3, 2))
    assert naive.start == T0


@settings(max_examples=examples(100), deadline=None)
@given(
    st.integers(0, 3 * 86400 * 1000),
    st.dictionaries(
        st.sampled_from(["temp", "hum", "v"]), st.floats(-1e6, 1e6, allow_nan=False), min_size=1
    ),
)
def test_a_one_message_event_rolls_up_as_the_general_path_does(
    at: int, metrics: dict[str, float]
) -> None:
    """The one-message shortcut gives what the general path gives for the same message twice,
    halved: every bucket of every metric holds that one value."""
    entry = RawEntry(ms(T0) + at, "m", metrics)
    twice = rollup([entry, RawEntry(entry.at_ms, "m2", metrics)])
    once = rollup([entry])
    assert list(once) == list(twice)  # the same buckets, in the same order
    for key, stats in once.items():
        value = metrics[key.metric]
        assert stats == Stats(value, value, sum([value]), 1)
        assert (twice[key].min, twice[key].max, twice[key].count) == (value, value, 2)


Payload = dict[str, Any]


def payload_entry(message_id: str, seconds: int, value: float, late: bool = False) -> Payload:
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    body = {"message_id": message_id, "at": at, "metrics": {"temp": value}, "status": {}}
    return {**body, "late": True} if late else body


def test_fold_reads_the_late_flags_and_old_events_have_none() -> None:
    batch = fold(envelope([payload_entry("a", 0, 1.0), payload_entry("b", 1, 2.0, late=True)]))
    assert batch.late == (1,)
    assert fold(envelope([payload_entry("a", 0, 1.0)])).late == ()


def test_without_repeats_drops_late_entries_stored_before_or_earlier_in_the_call() -> None:
    original = fold(envelope([payload_entry(f"m{i}", i, float(i)) for i in range(3)], version=2))
    redelivery = fold(
        envelope(
            [payload_entry("m0", 0, 0.0, late=True), payload_entry("new", 5, 9.0, late=True),
             payload_entry("m9", 9, 9.0, late=True), payload_entry("fresh", 6, 1.0)],
            version=3,
        )
    )  # fmt: skip
    asked: list[list[str]] = []

    def stored(batch: DeviceBatch, entries: list[RawEntry]) -> set[tuple[int, str]]:
        asked.append([e.message_id for e in entries])
        return {(ms(T0 + timedelta(seconds=9)), "m9")}  # raw history holds m9 only

    kept = without_repeats([original, redelivery], stored)
    assert kept[0] is original
    assert [e.message_id for e in kept[1].entries] == ["new", "fresh"]
    assert asked == [["new", "m9"]]  # m0 was found in the call, "fresh" is not late
    assert kept[1].rollups[RollupKey("temp", MINUTE, ms(T0) // 1000)] == Stats(1.0, 9.0, 10.0, 2)
    assert len(kept[1].status) == 2
    alone = without_repeats([redelivery], stored)  # the original applied in an earlier call
    assert [e.message_id for e in alone[0].entries] == ["m0", "new", "fresh"]


def test_without_repeats_costs_nothing_without_late_entries() -> None:
    batches = [fold(envelope([payload_entry("a", 0, 1.0)]))]

    def never(batch: DeviceBatch, entries: list[RawEntry]) -> set[tuple[int, str]]:
        raise AssertionError("asked raw history without a late entry")

    assert without_repeats(batches, never) is batches
