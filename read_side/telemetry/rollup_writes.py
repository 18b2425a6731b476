"""What one call of the SQLite telemetry view writes (`read_side.telemetry.sqlite`): the
readings' rows, and each event's contribution to each rollup row, in feed order, with the
arithmetic that adds several of them to a row bit for bit as one upsert each would. Apart from
the view so the tables' SQL stays there and this stays pure (the view passes `merged` its row
reader)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, cast

from read_side.telemetry.batch import DeviceBatch, Stats
from read_side.telemetry.row import BUCKET_SECONDS, ROLLUP_RESOLUTIONS, Resolution

_RESOLUTION = {resolution: resolution.value for resolution in Resolution}
_SIZES = tuple((resolution.value, BUCKET_SECONDS[resolution]) for resolution in ROLLUP_RESOLUTIONS)

Summary = tuple[float, float, float, int]  # min, max, sum, count
RollupRowKey = tuple[str, str, str, str, int]  # tenant, device hex, metric, resolution, start_s


# One event's contribution to a rollup row: its summary, or, for an event of one message, the
# message's value alone (min = max = value, sum = 0.0 + value, count 1), which spares making a
# summary per metric and resolution for most events.
Contribution = Stats | float


class RollupWrites:
    """Each event's contribution to each rollup row, in feed order, written so that a row ends
    up with the same numbers bit for bit however the events are grouped into batches: the sum
    is order-sensitive in floating point, so row + c1 + c2 must be added in that order.

    A row one event of the batch touches gets that contribution by one upsert (`added`): where
    every event is a different device's, nothing is read. A row several events touch (a busy
    device, or a rebuild's page holding many events per device) is read once, the
    contributions are added to it in Python in feed order, and it is written once (`merged`):
    one read and one write instead of an upsert per event. A row that only single values
    touch has them added by C loops (`min`, `max`, `functools.reduce`), still one by one in
    feed order."""

    def __init__(self) -> None:
        self.by_row: dict[RollupRowKey, list[Contribution]] = {}  # in feed order
        self.summarised: set[RollupRowKey] = set()  # the rows some `Stats` contributes to

    @property
    def added(self) -> list[tuple[Any, ...]]:
        """The upserts of the rows one contribution touches."""
        return [(*key, *_summary(c)) for key, (c, *more) in self.by_row.items() if not more]

    def merged(self, read: Callable[[RollupRowKey], Summary | None]) -> list[tuple[Any, ...]]:
        """The rows several contributions touch, as they stand after them all (each read now
        by `read`: min, max, sum, count, or None)."""
        rows: list[tuple[Any, ...]] = []
        for key, contributions in self.by_row.items():
            if len(contributions) == 1:
                continue
            found = read(key)
            rest: list[Contribution] = contributions
            if found is None:
                low, high, total, count = _summary(contributions[0])
                rest = contributions[1:]
            else:
                low, high, total, count = found
            if key in self.summarised:
                for c in rest:
                    c_low, c_high, c_sum, c_count = _summary(c)
                    low, high = min(low, c_low), max(high, c_high)  # as SQLite's min(), max()
                    total += c_sum
                    count += c_count
            elif rest:  # single values: a value's sum is 0.0 + value, the same once added
                values = cast(list[float], rest)
                low, high = min(low, *values), max(high, *values)
                total = functools.reduce(operator.add, values, total)
                count += len(values)
            rows.append((*key, low, high, total, count))
        return rows


def _summary(c: Contribution) -> Summary:
    if isinstance(c, Stats):
        return c.min, c.max, c.sum, c.count
    return c, c, 0.0 + c, 1


def rows_of(batches: Sequence[DeviceBatch]) -> tuple[list[tuple[Any, ...]], RollupWrites]:
    """The readings' rows, and each event's contribution to each rollup row (feed order)."""
    readings: list[tuple[Any, ...]] = []
    rollups = RollupWrites()
    by_row = rollups.by_row.setdefault
    for batch in batches:
        tenant, device = batch.tenant_id, batch.device_id.hex
        version = batch.version
        entries = batch.entries
        readings.extend(
            (tenant, device, metric, entry.at_ms, entry.message_id, value, version)
            for entry in entries
            for metric, value in entry.metrics.items()
        )
        if len(entries) == 1:  # most events: each value is its buckets' whole contribution
            minute = entries[0].at_ms // 60_000 * 60  # as `rollup` buckets it
            starts = [(resolution, minute // size * size) for resolution, size in _SIZES]
            for metric, value in entries[0].metrics.items():
                for resolution, start_s in starts:
                    by_row((tenant, device, metric, resolution, start_s), []).append(value)
            continue
        for (metric, resolution, start_s), stats in batch.rollups.items():
            key = (tenant, device, metric, _RESOLUTION[resolution], start_s)
            by_row(key, []).append(stats)
            rollups.summarised.add(key)
    return readings, rollups
