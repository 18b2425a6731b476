"""Maintenance windows in a device's local time (docs/firmware.md section 12.2), across
midnight, on chosen weekdays and over summer-time changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from write_side.deployment_windows import (
    TIME_ZONE_METADATA_KEY,
    MaintenanceWindow,
    check_windows,
    device_zone,
    is_open,
    next_opening,
    parse_window,
    zone_named,
)
from write_side.errors import InvalidInput

BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
NIGHT = parse_window("02:00", "04:00", None, "windows[0]")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_window_is_in_the_devices_own_time() -> None:
    at = utc(2026, 1, 15, 1, 30)  # 02:30 in Berlin, 10:30 in Tokyo
    assert is_open([NIGHT], at, BERLIN)
    assert not is_open([NIGHT], at, TOKYO)
    assert next_opening([NIGHT], at, TOKYO) == utc(2026, 1, 15, 17, 0)  # 02:00 in Tokyo
    assert next_opening([NIGHT], at, BERLIN) == at


def test_no_window_means_always() -> None:
    assert is_open([], utc(2026, 1, 15, 12, 0), BERLIN)


def test_a_window_across_midnight_on_chosen_days() -> None:
    friday_night = parse_window("22:00", "02:00", [4], "windows[0]")  # starts Fridays
    assert is_open([friday_night], utc(2026, 1, 16, 22, 30), UTC)  # Friday 22:30
    assert is_open([friday_night], utc(2026, 1, 17, 1, 30), UTC)  # Saturday 01:30
    assert not is_open([friday_night], utc(2026, 1, 17, 22, 30), UTC)  # Saturday night
    assert next_opening([friday_night], utc(2026, 1, 17, 3, 0), UTC) == utc(2026, 1, 23, 22, 0)


def test_a_sunday_night_window_wraps_the_week() -> None:
    sunday = parse_window("23:00", "01:00", [6], "windows[0]")
    assert is_open([sunday], utc(2026, 1, 19, 0, 30), UTC)  # Monday 00:30
    assert next_opening([sunday], utc(2026, 1, 19, 2, 0), UTC) == utc(2026, 1, 25, 23, 0)


def test_a_start_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    # Berlin skips 02:00-03:00 on 29 March 2026 (01:00 UTC).
    late_start = parse_window("02:30", "04:00", None, "windows[0]")
    assert next_opening([late_start], utc(2026, 3, 28, 12, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert is_open([late_start], utc(2026, 3, 29, 1, 0), BERLIN)
    skipped = parse_window("02:10", "02:50", None, "windows[0]")  # never happens that night
    assert next_opening([skipped], utc(2026, 3, 28, 12, 0), BERLIN) == utc(2026, 3, 30, 0, 10)


def test_the_repeated_hour_is_in_the_window_twice() -> None:
    # Berlin repeats 02:00-03:00 on 25 October 2026 (00:00-01:00 and 01:00-02:00 UTC).
    assert is_open([NIGHT], utc(2026, 10, 25, 0, 30), BERLIN)
    assert is_open([NIGHT], utc(2026, 10, 25, 1, 30), BERLIN)
    assert next_opening([NIGHT], utc(2026, 10, 24, 12, 0), BERLIN) == utc(2026, 10, 25, 0, 0)


@pytest.mark.parametrize(
    ("start", "end", "days", "field"),
    [
        ("2:00", "04:00", None, "windows[0].start"),
        ("02:00", "24:00", None, "windows[0].end"),
        ("02:00", "02:00", None, "windows[0].end"),
        ("02:00", "04:00", [7], "windows[0].days"),
        ("02:00", "04:00", [], "windows[0].days"),
    ],
)
def test_a_bad_window_names_its_field(
    start: str, end: str, days: list[int] | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_window(start, end, days, "windows[0]")
    assert raised.value.field == field


def test_overlapping_windows_are_refused() -> None:
    late = parse_window("03:00", "05:00", None, "windows[1]")
    with pytest.raises(InvalidInput) as raised:
        check_windows([NIGHT, late])
    assert raised.value.field == "windows[1]"
    saturday = parse_window("23:00", "03:00", [5], "windows[1]")  # into Sunday 02:00-03:00
    with pytest.raises(InvalidInput):
        check_windows([parse_window("02:00", "04:00", [6], "windows[0]"), saturday])
    check_windows([NIGHT, parse_window("04:00", "05:00", None, "windows[1]")])  # touching


def test_the_zone_comes_from_the_devices_metadata() -> None:
    assert device_zone({TIME_ZONE_METADATA_KEY: "Asia/Tokyo"}, BERLIN) == TOKYO
    assert device_zone({}, BERLIN) == BERLIN
    assert device_zone({TIME_ZONE_METADATA_KEY: "Mars/Olympus"}, BERLIN) == BERLIN
    with pytest.raises(InvalidInput) as raised:
        zone_named("Mars/Olympus", "defaultTimeZone")
    assert raised.value.field == "defaultTimeZone"


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
CLOCK = st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@settings(max_examples=examples(100))
@given(
    zone=ZONES,
    start=CLOCK,
    length_minutes=st.integers(15, 12 * 60),
    days=st.none() | st.frozensets(st.integers(0, 6), min_size=1),
    minutes=st.integers(0, 366 * 24 * 60),
)
def test_the_next_opening_is_open_and_nothing_before_it_is(
    zone: str,
    start: tuple[int, int],
    length_minutes: int,
    days: frozenset[int] | None,
    minutes: int,
) -> None:
    begin = start[0] * 60 + start[1]
    end = (begin + length_minutes) % (24 * 60)
    window = parse_window(
        f"{start[0]:02d}:{start[1]:02d}", f"{end // 60:02d}:{end % 60:02d}", days, "w"
    )
    tz, at = ZoneInfo(zone), utc(2026, 1, 1) + timedelta(minutes=minutes)
    opening = next_opening([window], at, tz)
    assert opening >= at
    assert is_open([window], opening, tz)
    probe = at
    while probe < opening:  # every quarter hour before the opening is outside the window
        assert not is_open([window], probe, tz)
        probe += timedelta(minutes=15)


def test_windows_hold_their_spans() -> None:
    assert MaintenanceWindow(NIGHT.start, NIGHT.end, frozenset({0})).spans() == [(7200, 14400)]
