"""`AnalyticsAnswer.encoded`, REST's JSON of an analytics answer made without a model per
bucket, reads exactly as the model it stands for (`public()`) would be sent: by alias, nulls
kept, datetimes and ids as pydantic writes them, a non-finite value as null; in both layouts."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.analytics import AnalyticsAnswer, AnalyticsLayout
from read_side.analytics import AnalyticsResult, Series, Source

AGGREGATIONS = ["min", "max", "avg", "sum", "count", "p50", "p99"]
values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def series(draw: st.DrawFn) -> Series:
    first = draw(moments)
    offsets = sorted(draw(st.lists(st.integers(0, 10**7), max_size=6, unique=True)))
    starts = [first + timedelta(seconds=offset) for offset in offsets]
    names = draw(st.lists(st.sampled_from(AGGREGATIONS), min_size=1, max_size=4, unique=True))
    columns = {
        name: draw(st.lists(values, min_size=len(starts), max_size=len(starts))) for name in names
    }
    device = draw(st.one_of(st.none(), st.uuids()))
    metric = draw(st.text(min_size=1, max_size=8))
    return Series(device, metric, starts, columns)


results = st.builds(AnalyticsResult, st.sampled_from(list(Source)), st.lists(series(), max_size=4))


def as_sent(answer: AnalyticsAnswer) -> Any:
    """What the model's JSON is (FastAPI sends the same for a response model: a non-finite
    float as null too)."""
    return json.loads(answer.public().model_dump_json(by_alias=True))


@given(results, st.sampled_from(list(AnalyticsLayout)))
def test_the_encoding_reads_as_the_model_sent(result: AnalyticsResult, layout: Any) -> None:
    answer = AnalyticsAnswer(result, layout)
    assert json.loads(answer.encoded()) == as_sent(answer)


def test_non_finite_values_and_a_fleet_series_in_points() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    fleet = Series(None, "temp", [start, start + timedelta(hours=1)],
                   {"avg": [math.nan, 1.5], "max": [math.inf, None]})  # fmt: skip
    sent = json.loads(AnalyticsAnswer(AnalyticsResult(Source.PARQUET, [fleet]),
                                      AnalyticsLayout.POINTS).encoded())  # fmt: skip
    assert sent == {
        "source": "parquet",
        "series": [{
            "deviceId": None, "metric": "temp", "starts": None, "columns": None,
            "points": [
                {"start": "2026-12-01T00:00:00Z", "values": {"avg": None, "max": None}},
                {"start": "2026-12-01T01:00:00Z", "values": {"avg": 1.5, "max": None}},
            ],
        }],
    }  # fmt: skip
