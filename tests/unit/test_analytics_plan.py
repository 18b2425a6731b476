"""The analytics planner (docs/analytics.md 20.3), pure: rollups when they suffice, Parquet
otherwise, each budget refused with the field and the budget named, and SQL whose text never
holds what the client sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from read_side.analytics import (
    Aggregation,
    AnalyticsQuery,
    Budgets,
    GroupBy,
    Source,
    TimeBucket,
    plan,
)
from read_side.analytics.duck import parquet_sql
from write_side.errors import InvalidInput

T0 = datetime(2026, 3, 1, tzinfo=UTC)
A = Aggregation


def query(**changes: Any) -> AnalyticsQuery:
    given: dict[str, Any] = {
        "metrics": ["temp"],
        "start": T0,
        "end": T0 + timedelta(days=1),
        "bucket": TimeBucket.HOUR,
        "aggregations": [A.AVG, A.MAX],
        "device_ids": [uuid.uuid4()],
    } | changes
    return AnalyticsQuery.checked(**given)


def refused(field: str, *words: str, **changes: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        query(**changes)
    assert caught.value.field == field
    for word in words:
        assert word in caught.value.message


def test_rollups_answer_their_aggregations_and_buckets_over_few_devices() -> None:
    for bucket in (TimeBucket.MINUTE, TimeBucket.HOUR, TimeBucket.DAY):
        chosen = plan(query(bucket=bucket, aggregations=list(A)[:5]), devices=4)
        assert chosen.source is Source.ROLLUPS, bucket
    fleet = query(group_by=GroupBy.FLEET, device_ids=[], tag="north")
    assert plan(fleet, devices=20).source is Source.ROLLUPS


@pytest.mark.parametrize(
    ("changes", "devices", "why"),
    [
        ({"aggregations": [A.AVG, A.P95]}, 1, "percentiles"),
        ({"bucket": TimeBucket.WEEK}, 1, "week"),
        ({"bucket": TimeBucket.MONTH, "end": T0 + timedelta(days=90)}, 1, "month"),
        ({"group_by": GroupBy.FLEET, "device_ids": []}, None, "whole fleet"),
        ({"metrics": ["temp", "hum", "volt"]}, 7, "21 rollup reads"),
    ],
)
def test_parquet_answers_the_rest(changes: dict[str, Any], devices: int | None, why: str) -> None:
    chosen = plan(query(**changes), devices)
    assert chosen.source is Source.PARQUET
    assert why in chosen.reason


def test_the_range_budget_depends_on_the_bucket() -> None:
    refused("to", "max_range", "7 days", bucket=TimeBucket.MINUTE, end=T0 + timedelta(days=8))
    query(bucket=TimeBucket.MINUTE, end=T0 + timedelta(days=7))  # the limit itself is fine
    query(bucket=TimeBucket.HOUR, end=T0 + timedelta(days=92))
    refused("to", "max_range", bucket=TimeBucket.HOUR, end=T0 + timedelta(days=93))


def test_series_and_points_budgets_name_what_to_change() -> None:
    budgets = Budgets(max_series=10, max_points=1000)
    with pytest.raises(InvalidInput) as caught:
        plan(query(device_ids=[], tag="north", metrics=["a", "b"]), devices=6, budgets=budgets)
    assert caught.value.field == "tag"
    assert caught.value.message.startswith("budget max_series: 12 series, at most 10")
    with pytest.raises(InvalidInput) as caught:  # 2 series x 721 hourly buckets
        plan(query(metrics=["a", "b"], end=T0 + timedelta(days=30)), devices=1, budgets=budgets)
    assert caught.value.field == "bucket"
    assert "max_points" in caught.value.message
    with pytest.raises(InvalidInput) as caught:  # a series per device needs named devices
        plan(query(device_ids=[]), devices=None)
    assert caught.value.field == "groupBy"


def test_bad_input_is_named() -> None:
    refused("metrics", metrics=[])
    refused("metrics", "not a metric name", metrics=["temp", "x'; DROP TABLE t; --"])
    refused("aggregations", aggregations=[])
    refused("tag", "one of", tag="north")  # device ids and a tag
    refused("to", "later", end=T0)


def test_the_sql_text_holds_nothing_the_client_sent() -> None:
    one = query(metrics=["temp"], device_ids=[uuid.uuid4()], aggregations=[A.P99, A.COUNT])
    other = query(metrics=["hum", "volt"], device_ids=[uuid.uuid4()], aggregations=[A.P99, A.COUNT])
    assert parquet_sql(one, True, True) == parquet_sql(other, True, True)
    sql = parquet_sql(one, False, False)
    assert "temp" not in sql
    assert "device_id" not in sql.split("FROM")[0]  # grouped over the fleet
    assert "quantile_cont(value, 0.99)" in sql
    assert "date_trunc('hour', ts)" in sql
