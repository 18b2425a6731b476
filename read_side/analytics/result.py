"""What an analytics query answers: series of points, each a bucket's aggregations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from read_side.analytics.plan import Source

__all__ = ["AnalyticsResult", "Point", "Series"]


@dataclass(frozen=True)
class Point:
    start: datetime  # the bucket's start (UTC)
    values: dict[str, float | None]  # by aggregation name


@dataclass(frozen=True)
class Series:
    device_id: UUID | None  # None: grouped over the fleet
    metric: str
    points: list[Point]


@dataclass(frozen=True)
class AnalyticsResult:
    source: Source
    series: list[Series]
