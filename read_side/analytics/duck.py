"""Analytics over the Parquet files with DuckDB (docs/analytics.md 20.3): one parameterised
statement per query, interrupted when it outlives its time budget.

Devices, metrics, the tenant, the times and the file list are parameters; the only text that
varies is taken from the fixed tables below by enum (`date_trunc` units, aggregate calls).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from read_side.analytics.files import ParquetFiles
from read_side.analytics.plan import Aggregation, AnalyticsQuery, Budgets, GroupBy, TimeBucket
from read_side.analytics.result import Series
from write_side.errors import DomainError

__all__ = [
    "AGGREGATE_SQL",
    "QueryBudgetExceeded",
    "parquet_sql",
    "query_parquet",
    "run_budgeted",
    "series_sql",
]

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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class QueryBudgetExceeded(DomainError):
    """A query ran longer than its budget (`max_seconds`) and was interrupted."""

    code = "QUERY_BUDGET_EXCEEDED"


def parquet_sql(query: AnalyticsQuery, by_device: bool, filter_devices: bool) -> str:
    """The statement for `query`, a row per bucket (its parameters: `$files`, `$tenant`,
    `$metrics`, `$start`, `$end` and, when `filter_devices`, `$devices`): what a user would
    run on the files directly (the baseline of `bench/analytics.py`)."""
    return _buckets_sql(query, by_device, filter_devices) + " ORDER BY ALL"


def series_sql(query: AnalyticsQuery, by_device: bool, filter_devices: bool) -> str:
    """`parquet_sql`'s buckets as a row per series, each column a list (DuckDB builds them),
    the starts as milliseconds since the epoch (UTC); the same parameters. Integers, not
    DuckDB's datetimes: making 2.16M `TIMESTAMPTZ` values took 7 s, naive ones and a
    `replace(tzinfo=UTC)` each 4 s; the series of a query share their starts (`_Instants`)."""
    keys = "device_id, metric" if by_device else "metric"
    columns = "".join(f", list(a{i} ORDER BY bucket)" for i in range(len(query.aggregations)))
    return (
        f"SELECT {keys}, list(epoch_ms(bucket) ORDER BY bucket){columns} "  # noqa: S608 - fixed text only
        f"FROM ({_buckets_sql(query, by_device, filter_devices)}) GROUP BY {keys} ORDER BY {keys}"
    )


def _buckets_sql(query: AnalyticsQuery, by_device: bool, filter_devices: bool) -> str:
    device = "device_id, " if by_device else ""
    aggregates = ", ".join(f"{AGGREGATE_SQL[a]} AS a{i}" for i, a in enumerate(query.aggregations))
    devices = " AND device_id IN (SELECT unnest($devices))" if filter_devices else ""
    return (
        f"SELECT {device}metric, date_trunc('{TRUNC_UNIT[query.bucket]}', ts) AS bucket, "  # noqa: S608 - fixed text only
        f"{aggregates} FROM read_parquet($files, hive_partitioning = true) "
        "WHERE tenant_id = $tenant AND metric IN (SELECT unnest($metrics)) "
        f"AND ts >= $start AND ts < $end{devices} "
        "GROUP BY ALL"
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
    sql = series_sql(query, by_device, devices is not None)
    rows = run_budgeted(sql, params, budgets.max_seconds)
    names = [a.value for a in query.aggregations]
    first = 2 if by_device else 1  # where the lists start
    instants = _Instants()
    return [
        Series(UUID(row[0]) if by_device else None, row[first - 1], instants.of(row[first]),
               dict(zip(names, row[first + 1 :], strict=True)))
        for row in rows
    ]  # fmt: skip


class _Instants(dict[int, datetime]):
    """Milliseconds since the epoch as UTC datetimes, each made once per query."""

    def of(self, milliseconds: list[int]) -> list[datetime]:
        return [self[ms] for ms in milliseconds]

    def __missing__(self, ms: int) -> datetime:
        made = self[ms] = _EPOCH + timedelta(milliseconds=ms)
        return made


def run_budgeted(sql: str, params: dict[str, Any], max_seconds: float) -> list[tuple[Any, ...]]:
    import duckdb  # here, not at import: most processes never query (0.3 s)

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


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)  # the files' `ts` is UTC, without a zone
