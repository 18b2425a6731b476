"""Analytics over the Parquet files with DuckDB (docs/analytics.md 20.3): one parameterised
statement per query, interrupted when it outlives its time budget.

Devices, metrics, the tenant, the times and the file list are parameters; the only text that
varies is taken from the fixed tables below by enum (`date_trunc` units, aggregate calls).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any
from uuid import UUID

import duckdb

from read_side.analytics.files import ParquetFiles
from read_side.analytics.plan import Aggregation, AnalyticsQuery, Budgets, GroupBy, TimeBucket
from read_side.analytics.result import Point, Series
from write_side.errors import DomainError

__all__ = ["AGGREGATE_SQL", "QueryBudgetExceeded", "parquet_sql", "query_parquet", "run_budgeted"]

AGGREGATE_SQL: dict[Aggregation, str] = {
    Aggregation.MIN: "min(value)",
    Aggregation.MAX: "max(value)",
    Aggregation.AVG: "avg(value)",
    Aggregation.SUM: "sum(value)",
    Aggregation.COUNT: "count(value)",
    Aggregation.P50: "quantile_cont(value, 0.5)",
    Aggregation.P90: "quantile_cont(value, 0.9)",
    Aggregation.P95: "quantile_cont(value, 0.95)",
    Aggregation.P99: "quantile_cont(value, 0.99)",
}
TRUNC_UNIT: dict[TimeBucket, str] = {bucket: bucket.value for bucket in TimeBucket}


class QueryBudgetExceeded(DomainError):
    """A query ran longer than its budget (`max_seconds`) and was interrupted."""

    code = "QUERY_BUDGET_EXCEEDED"


def parquet_sql(query: AnalyticsQuery, by_device: bool, filter_devices: bool) -> str:
    """The statement for `query` (its parameters: `$files`, `$tenant`, `$metrics`, `$start`,
    `$end` and, when `filter_devices`, `$devices`)."""
    device = "device_id, " if by_device else ""
    aggregates = ", ".join(AGGREGATE_SQL[a] for a in query.aggregations)
    devices = " AND device_id IN (SELECT unnest($devices))" if filter_devices else ""
    return (
        f"SELECT {device}metric, date_trunc('{TRUNC_UNIT[query.bucket]}', ts) AS bucket, "  # noqa: S608 - fixed text only
        f"{aggregates} FROM read_parquet($files, hive_partitioning = true) "
        "WHERE tenant_id = $tenant AND metric IN (SELECT unnest($metrics)) "
        f"AND ts >= $start AND ts < $end{devices} "
        f"GROUP BY ALL ORDER BY ALL"
    )


def query_parquet(
    files: ParquetFiles,
    tenant_id: str,
    query: AnalyticsQuery,
    devices: Sequence[UUID] | None,
    budgets: Budgets,
) -> list[Series]:
    """The series of `query` over the tenant's files of the days it covers (`devices`: those
    selected; None: every device of the tenant)."""
    last_instant = query.end - timedelta(microseconds=1)
    paths = files.tenant_files(tenant_id, query.start.date(), last_instant.date())
    by_device = query.group_by is GroupBy.DEVICE
    if not paths or devices == []:
        return []
    params: dict[str, Any] = {
        "files": paths,
        "tenant": tenant_id,
        "metrics": list(query.metrics),
        "start": _naive(query.start),
        "end": _naive(query.end),
    }
    if devices is not None:
        params["devices"] = [str(d) for d in devices]
    sql = parquet_sql(query, by_device, devices is not None)
    rows = run_budgeted(sql, params, budgets.max_seconds)
    return _series(rows, query, by_device)


def run_budgeted(sql: str, params: dict[str, Any], max_seconds: float) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        timer = threading.Timer(max_seconds, con.interrupt)
        timer.start()
        try:
            return con.execute(sql, params).fetchall()
        except duckdb.InterruptException:
            raise QueryBudgetExceeded(
                f"budget max_seconds: the query ran longer than {max_seconds:g} s and was "
                "stopped; narrow the range, the devices or the metrics"
            ) from None
        finally:
            timer.cancel()


def _series(rows: list[tuple[Any, ...]], query: AnalyticsQuery, by_device: bool) -> list[Series]:
    """Rows ordered by (device,) metric, bucket into series: each run of one key is a series."""
    names = [a.value for a in query.aggregations]
    first = 3 if by_device else 2  # where the aggregates start
    key = itemgetter(0, 1) if by_device else itemgetter(0)
    series = []
    for found, run in groupby(rows, key=key):
        device, metric = found if by_device else (None, found)
        points = [Point(r[first - 1].replace(tzinfo=UTC), dict(zip(names, r[first:], strict=True)))
                  for r in run]  # fmt: skip
        series.append(Series(None if device is None else UUID(device), metric, points))
    return series


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)  # the files' `ts` is UTC, without a zone
