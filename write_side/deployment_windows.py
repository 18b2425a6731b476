"""Maintenance windows in each device's local time: a device is notified only inside one.

A window is a wall-clock span ("02:00"-"04:00"), daily or on given local weekdays (the days it
starts on; an end at or before the start crosses midnight). Whether a window is open is decided
on the device's wall clock (`zoneinfo`), so a repeated hour at the end of summer time is inside
a window twice and a start inside the skipped hour opens when the clock jumps past it. Windows
are kept as spans of the local week, which makes overlap checks and cross-midnight spans one
case. Pure; design: docs/firmware.md section 12.2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from write_side.errors import InvalidInput

TIME_ZONE_METADATA_KEY = "fleetwatch.time_zone"  # the device's IANA zone, in its metadata
DAY = 24 * 3600
WEEK = 7 * DAY
MAX_WINDOWS = 14
HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    start: time
    end: time  # at or before `start`: the window ends the next day
    days: frozenset[int] | None = None  # local weekdays it starts on (0 = Monday); None: daily

    def spans(self) -> list[tuple[int, int]]:
        """The window as [start, end) seconds of the local week, split where the week wraps."""
        begin, finish = _seconds(self.start), _seconds(self.end)
        length = finish - begin if finish > begin else finish + DAY - begin
        spans = []
        for day in sorted(self.days if self.days is not None else range(7)):
            first = day * DAY + begin
            spans.append((first, min(first + length, WEEK)))
            if first + length > WEEK:
                spans.append((0, first + length - WEEK))
        return spans


def parse_window(start: str, end: str, days: Iterable[int] | None, where: str) -> MaintenanceWindow:
    """A window from its wire form; InvalidInput names `where` and the bad part."""
    bounds = []
    for name, text in (("start", start), ("end", end)):
        match = HH_MM.match(text)
        if match is None:
            raise InvalidInput("a time is HH:MM, 00:00 to 23:59", f"{where}.{name}")
        bounds.append(time(int(match.group(1)), int(match.group(2))))
    if bounds[0] == bounds[1]:
        raise InvalidInput("a window has a length", f"{where}.end")
    chosen = None if days is None else frozenset(days)
    if chosen is not None and (not chosen or not chosen <= frozenset(range(7))):
        raise InvalidInput("days are 0 (Monday) to 6, at least one", f"{where}.days")
    return MaintenanceWindow(bounds[0], bounds[1], chosen)


def check_windows(windows: Sequence[MaintenanceWindow]) -> None:
    """InvalidInput when there are too many windows or two of them overlap."""
    if len(windows) > MAX_WINDOWS:
        raise InvalidInput(f"at most {MAX_WINDOWS} windows", "windows")
    for index, window in enumerate(windows):
        for other in windows[:index]:
            if any(a < d and c < b for a, b in window.spans() for c, d in other.spans()):
                raise InvalidInput("maintenance windows overlap", f"windows[{index}]")


def zone_named(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {name!r}", field) from error


def device_zone(metadata: Mapping[str, str], default: ZoneInfo) -> ZoneInfo:
    """The device's zone from its metadata; `default` (the deployment's) when it has none or
    an unknown one (a device's metadata is not the deployment's input to refuse)."""
    name = metadata.get(TIME_ZONE_METADATA_KEY)
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def is_open(windows: Sequence[MaintenanceWindow], at: datetime, zone: ZoneInfo) -> bool:
    """Whether the device may be notified at `at` (aware); no windows: always."""
    if not windows:
        return True
    local = at.astimezone(zone)
    second = local.weekday() * DAY + _seconds(local.time())
    return any(a <= second < b for window in windows for a, b in window.spans())


def next_opening(windows: Sequence[MaintenanceWindow], at: datetime, zone: ZoneInfo) -> datetime:
    """`at` when a window is open, else the first instant after it when one opens (UTC)."""
    if is_open(windows, at, zone):
        return at
    local = at.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    candidates = [
        _first_instant(_wall(monday, week, a), zone)
        for week in (0, 1, 2)
        for window in windows
        for a, _ in window.spans()
    ]
    return min(c for c in candidates if c > at and is_open(windows, c, zone))


def _wall(monday: date, week: int, second_of_week: int) -> datetime:
    midnight = datetime.combine(monday, time())
    return midnight + timedelta(weeks=week, seconds=second_of_week)


def _first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant at which the local clock reads `wall` or later (a wall time in a
    skipped hour: the instant the clock jumps past it)."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold 0: the first of a repeated time
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())  # its clock reads before `wall`
    high = int(instant.timestamp())  # its clock reads after `wall`
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _seconds(clock: time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second
