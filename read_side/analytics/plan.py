"""An analytics query, validated, and the plan that answers it (docs/analytics.md 20.3): pure,
no I/O.

`AnalyticsQuery.checked(...)` refuses what a client may not ask (a typed `InvalidInput` naming
the field, and the budget when one is exceeded); `plan(query, devices)` says whether the
rollups suffice (`Source.ROLLUPS`) or DuckDB reads the Parquet files (`Source.PARQUET`), and
checks the budgets that depend on how many devices the selection holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from read_side.telemetry.row import Resolution
from read_side.times import as_utc
from write_side.errors import InvalidInput
from write_side.telemetry import METRIC_NAME

__all__ = [
    "DEFAULT_BUDGETS",
    "MAX_METRICS",
    "MAX_RANGE",
    "ROLLUP_AGGREGATIONS",
    "ROLLUP_MAX_READS",
    "Aggregation",
    "AnalyticsQuery",
    "Budgets",
    "GroupBy",
    "Plan",
    "Source",
    "TimeBucket",
    "plan",
]


class TimeBucket(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # ISO weeks, from Monday 00:00 UTC
    MONTH = "month"


class Aggregation(StrEnum):
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    SUM = "sum"
    COUNT = "count"
    P50 = "p50"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"


class GroupBy(StrEnum):
    DEVICE = "device"  # a series per device and metric
    FLEET = "fleet"  # a series per metric, over every selected device


class Source(StrEnum):
    ROLLUPS = "rollups"
    PARQUET = "parquet"


ROLLUP_AGGREGATIONS = frozenset(
    (Aggregation.MIN, Aggregation.MAX, Aggregation.AVG, Aggregation.SUM, Aggregation.COUNT)
)
# The buckets the telemetry rollups keep (UTC-aligned, as the rollups are).
ROLLUP_RESOLUTION: dict[TimeBucket, Resolution] = {
    TimeBucket.MINUTE: Resolution.MINUTE,
    TimeBucket.HOUR: Resolution.HOUR,
    TimeBucket.DAY: Resolution.DAY,
}
ROLLUP_MAX_READS = 20  # device x metric range reads: more, and one DuckDB scan is cheaper
MAX_METRICS = 10
MAX_DEVICE_IDS = 1000
# The longest range per bucket (field `to`).
MAX_RANGE: dict[TimeBucket, timedelta] = {
    TimeBucket.MINUTE: timedelta(days=7),
    TimeBucket.HOUR: timedelta(days=92),
    TimeBucket.DAY: timedelta(days=3 * 366),
    TimeBucket.WEEK: timedelta(days=5 * 366),
    TimeBucket.MONTH: timedelta(days=10 * 366),
}
# A bucket's longest length, to bound the points a query can answer before it runs.
_BUCKET_SECONDS = {
    TimeBucket.MINUTE: 60,
    TimeBucket.HOUR: 3600,
    TimeBucket.DAY: 86400,
    TimeBucket.WEEK: 7 * 86400,
    TimeBucket.MONTH: 28 * 86400,  # the shortest month: the most buckets a range can hold
}


@dataclass(frozen=True)
class Budgets:
    max_series: int = 500  # device x metric series (group by device) or metrics (fleet)
    max_points: int = 100_000  # series x buckets
    max_seconds: float = 20.0  # one DuckDB statement


DEFAULT_BUDGETS = Budgets()


@dataclass(frozen=True)
class AnalyticsQuery:
    metrics: tuple[str, ...]
    start: datetime
    end: datetime
    bucket: TimeBucket
    aggregations: tuple[Aggregation, ...]
    group_by: GroupBy = GroupBy.DEVICE
    device_ids: tuple[UUID, ...] = ()
    tag: str | None = None
    device_type: str | None = None

    @property
    def whole_fleet(self) -> bool:
        return not self.device_ids and self.tag is None and self.device_type is None

    @property
    def selector_field(self) -> str:
        """The field that chose the devices, as a budget error names it."""
        if self.device_ids:
            return "deviceIds"
        if self.tag is not None:
            return "tag"
        return "deviceType" if self.device_type is not None else "metrics"

    def bucket_count(self) -> int:
        seconds = (self.end - self.start).total_seconds()
        return int(-(-seconds // _BUCKET_SECONDS[self.bucket])) + 1  # +1: a partial first one

    @classmethod
    def checked(
        cls,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
        bucket: TimeBucket,
        aggregations: Sequence[Aggregation],
        *,
        group_by: GroupBy = GroupBy.DEVICE,
        device_ids: Sequence[UUID] = (),
        tag: str | None = None,
        device_type: str | None = None,
    ) -> AnalyticsQuery:
        """The query, or `InvalidInput` naming the field at fault."""
        if not metrics:
            raise InvalidInput("name at least one metric", field="metrics")
        if len(metrics) > MAX_METRICS:
            raise InvalidInput(f"at most {MAX_METRICS} metrics", field="metrics")
        for metric in metrics:
            if not METRIC_NAME.match(metric):
                raise InvalidInput(f"{metric!r} is not a metric name", field="metrics")
        if not aggregations:
            raise InvalidInput("name at least one aggregation", field="aggregations")
        chosen = [name for name, v in (("deviceIds", device_ids), ("tag", tag),
                                       ("deviceType", device_type)) if v]  # fmt: skip
        if len(chosen) > 1:
            raise InvalidInput(f"choose devices by one of {', '.join(chosen)}", field=chosen[1])
        if len(device_ids) > MAX_DEVICE_IDS:
            raise InvalidInput(f"at most {MAX_DEVICE_IDS} device ids", field="deviceIds")
        start, end = as_utc(start, "from"), as_utc(end, "to")
        if end <= start:
            raise InvalidInput("must be later than `from`", field="to")
        if end - start > MAX_RANGE[bucket]:
            raise InvalidInput(
                f"budget max_range: a {bucket.value} query covers at most "
                f"{MAX_RANGE[bucket].days} days; narrow the range or choose a coarser bucket",
                field="to",
            )
        return cls(
            metrics=tuple(dict.fromkeys(metrics)),
            start=start,
            end=end,
            bucket=bucket,
            aggregations=tuple(dict.fromkeys(aggregations)),
            group_by=group_by,
            device_ids=tuple(dict.fromkeys(device_ids)),
            tag=tag or None,
            device_type=device_type or None,
        )


@dataclass(frozen=True)
class Plan:
    source: Source
    series: int  # how many series the answer holds at most
    reason: str  # why this source (shown in logs and tests)


def plan(query: AnalyticsQuery, devices: int | None, budgets: Budgets = DEFAULT_BUDGETS) -> Plan:
    """Rollups or Parquet for `query` over `devices` selected devices (None: the whole fleet,
    not counted), or `InvalidInput` naming the budget it would exceed."""
    metrics = len(query.metrics)
    if query.group_by is GroupBy.FLEET:
        series = metrics
    elif devices is None:
        raise InvalidInput(
            "budget max_series: a query by device must name its devices (ids, a tag or a "
            "type); use groupBy fleet for the whole fleet",
            field="groupBy",
        )
    else:
        series = devices * metrics
    if series > budgets.max_series:
        raise InvalidInput(
            f"budget max_series: {series} series, at most {budgets.max_series}; "
            "select fewer devices or metrics",
            field=query.selector_field,
        )
    points = series * query.bucket_count()
    if points > budgets.max_points:
        raise InvalidInput(
            f"budget max_points: up to {points} points, at most {budgets.max_points}; "
            "choose a coarser bucket or a shorter range",
            field="bucket",
        )
    reads = None if devices is None else devices * metrics
    if not set(query.aggregations) <= ROLLUP_AGGREGATIONS:
        return Plan(Source.PARQUET, series, "percentiles are not kept by the rollups")
    if query.bucket not in ROLLUP_RESOLUTION:
        return Plan(Source.PARQUET, series, f"the rollups keep no {query.bucket.value} bucket")
    if reads is None:
        return Plan(Source.PARQUET, series, "the whole fleet: one scan")
    if reads > ROLLUP_MAX_READS:
        return Plan(Source.PARQUET, series, f"{reads} rollup reads, more than {ROLLUP_MAX_READS}")
    return Plan(Source.ROLLUPS, series, f"{reads} rollup reads")
