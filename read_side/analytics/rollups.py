"""Analytics answered from the telemetry rollups (docs/analytics.md 20.3): one range read of
buckets per device and metric (`TelemetryReader.buckets`, either store), merged per bucket when
grouped over the fleet. Only for what the planner sent here: min/max/avg/sum/count over the
buckets the rollups keep."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from uuid import UUID

from read_side.analytics.plan import ROLLUP_RESOLUTION, Aggregation, AnalyticsQuery, GroupBy
from read_side.analytics.result import Point, Series
from read_side.telemetry import MAX_HISTORY_PAGE, Bucket, HistoryQuery, TelemetryReader

__all__ = ["query_rollups"]


def query_rollups(
    reader: TelemetryReader, tenant_id: str, query: AnalyticsQuery, devices: Sequence[UUID]
) -> list[Series]:
    names = query.aggregations
    if query.group_by is GroupBy.DEVICE:
        return [
            Series(device, metric, [_point(b, names) for b in buckets])
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
            points = [_point(merged[key], names) for key in sorted(merged)]
            fleet.append(Series(None, metric, points))
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


def _point(bucket: Bucket, names: Sequence[Aggregation]) -> Point:
    values: dict[str, float | None] = {
        Aggregation.MIN: bucket.min,
        Aggregation.MAX: bucket.max,
        Aggregation.AVG: bucket.avg,
        Aggregation.SUM: bucket.sum,
        Aggregation.COUNT: float(bucket.count),
    }
    return Point(bucket.start, {name.value: values[name] for name in names})
