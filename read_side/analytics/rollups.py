"""Analytics answered from the telemetry rollups (docs/analytics.md 20.3): one range read of
buckets per device and metric (`TelemetryReader.buckets`, either store), merged per bucket when
grouped over the fleet. Only for what the planner sent here: min/max/avg/sum/count over the
buckets the rollups keep."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from uuid import UUID

from read_side.analytics.plan import ROLLUP_RESOLUTION, Aggregation, AnalyticsQuery, GroupBy
from read_side.analytics.result import Series
from read_side.telemetry import MAX_HISTORY_PAGE, Bucket, HistoryQuery, TelemetryReader

__all__ = ["query_rollups"]


def query_rollups(
    reader: TelemetryReader, tenant_id: str, query: AnalyticsQuery, devices: Sequence[UUID]
) -> list[Series]:
    names = query.aggregations
    if query.group_by is GroupBy.DEVICE:
        return [
            _series(device, metric, buckets, names)
            for device in devices
            for metric in query.metrics
            if (buckets := list(_buckets(reader, tenant_id, query, device, metric)))
        ]
    fleet: list[Series] = []
    for metric in query.metrics:
        merged: dict[int, Bucket] = {}
        for device in devices:
            for b in _buckets(reader, tenant_id, query, device, metric):
                key = int(b.start.timestamp())
                merged[key] = b if (m := merged.get(key)) is None else _merge(m, b)
        if merged:
            fleet.append(_series(None, metric, [merged[key] for key in sorted(merged)], names))
    return fleet


def _buckets(
    reader: TelemetryReader, tenant_id: str, query: AnalyticsQuery, device: UUID, metric: str
) -> Iterator[Bucket]:
    resolution = ROLLUP_RESOLUTION[query.bucket]
    after: str | None = None
    while True:
        history = HistoryQuery.checked(
            device, metric, query.start, query.end,
            resolution=resolution, first=MAX_HISTORY_PAGE, after=after,
        )  # fmt: skip
        page = reader.buckets(tenant_id, history)
        yield from page.items
        after = page.next_cursor
        if after is None:
            return


def _merge(a: Bucket, b: Bucket) -> Bucket:
    return Bucket(a.start, a.seconds, min(a.min, b.min), max(a.max, b.max),
                  a.sum + b.sum, a.count + b.count)  # fmt: skip


def _series(
    device: UUID | None, metric: str, buckets: list[Bucket], names: Sequence[Aggregation]
) -> Series:
    """The buckets in columns (`KeyError`: an aggregation the rollups do not keep; the planner
    sends only those they do)."""
    columns = {name.value: [_VALUE[name](b) for b in buckets] for name in names}
    return Series(device, metric, [b.start for b in buckets], columns)


_VALUE: dict[Aggregation, Callable[[Bucket], float | None]] = {
    Aggregation.MIN: lambda b: b.min,
    Aggregation.MAX: lambda b: b.max,
    Aggregation.AVG: lambda b: b.avg,
    Aggregation.SUM: lambda b: b.sum,
    Aggregation.COUNT: lambda b: float(b.count),
}
