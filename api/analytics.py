"""The analytics query (docs/analytics.md 20.3): `POST /analytics/query`, declared once.

`AnalyticsQueryBody` is the request, `AnalyticsResultPublic` the answer; the call validates the
body into the read side's `AnalyticsQuery` (typed errors naming the field and the budget) and
asks the system's `AnalyticsService` in a worker thread. GraphQL's `analyticsQuery(input:)`
is the same entry (its types: `api.graphql.analytics_types`; a point's values are `JSON`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from anyio import to_thread
from pydantic import Field

from api.auth import Permission
from api.device_view import View
from api.inputs import Input
from api.operations import QUERY, Call, GraphQL, Operation, Rest
from api.rest.errors import not_found
from read_side.analytics import (
    Aggregation,
    AnalyticsQuery,
    AnalyticsResult,
    GroupBy,
    Source,
    TimeBucket,
)
from write_side.errors import DomainError

__all__ = [
    "OPERATIONS",
    "AnalyticsQueryBody",
    "AnalyticsResultPublic",
    "PointPublic",
    "SeriesPublic",
]


class AnalyticsQueryBody(Input):
    """Telemetry of some devices, bucketed and aggregated. Devices: `deviceIds`, or a `tag`,
    or a `deviceType`, or none of them (the whole fleet, with `groupBy: fleet`)."""

    device_ids: list[UUID] = Field(default_factory=list, description="At most 1,000.")
    tag: str | None = None
    device_type: str | None = None
    metrics: list[str] = Field(description="1 to 10 metric names.")
    start: datetime = Field(alias="from", description="Inclusive (ISO 8601).")
    end: datetime = Field(alias="to", description="Exclusive (ISO 8601).")
    bucket: TimeBucket
    aggregations: list[Aggregation] = Field(
        default_factory=lambda: [Aggregation.AVG], description="Default: avg."
    )
    group_by: GroupBy = GroupBy.DEVICE

    def checked(self) -> AnalyticsQuery:
        return AnalyticsQuery.checked(
            self.metrics, self.start, self.end, self.bucket, self.aggregations,
            group_by=self.group_by, device_ids=self.device_ids, tag=self.tag,
            device_type=self.device_type,
        )  # fmt: skip


class PointPublic(View):
    start: datetime = Field(description="The bucket's start (UTC).")
    values: dict[str, float | None] = Field(description="By aggregation name.")


class SeriesPublic(View):
    device_id: UUID | None = Field(description="Null when grouped over the fleet.")
    metric: str
    points: list[PointPublic]


class AnalyticsResultPublic(View):
    source: Source = Field(description="What answered: the rollups or the Parquet files.")
    series: list[SeriesPublic]

    @classmethod
    def of(cls, result: AnalyticsResult) -> AnalyticsResultPublic:
        return cls(
            source=result.source,
            series=[
                SeriesPublic(
                    device_id=s.device_id,
                    metric=s.metric,
                    points=[PointPublic(start=p.start, values=p.values) for p in s.points],
                )
                for s in result.series
            ],
        )


class AnalyticsUnavailable(DomainError):
    code = "UNAVAILABLE"


async def analytics_query(call: Call) -> AnalyticsResultPublic:
    """Buckets of the selected devices' metrics over `[from, to)`; from the rollups when they
    suffice (min/max/avg/sum/count by minute, hour or day over at most 20 device x metric
    reads), else from the Parquet files (DuckDB)."""
    service = call.system.analytics
    if service is None:
        raise AnalyticsUnavailable("analytics is not configured in this process")
    query = call.shape.checked()
    result = await to_thread.run_sync(service.query, call.caller.tenant_id, query)
    return AnalyticsResultPublic.of(result)


OPERATIONS = (
    Operation(
        "analytics_query", Permission.READ_DEVICES, analytics_query, AnalyticsResultPublic,
        shape=AnalyticsQueryBody,
        rest=Rest(
            "POST", "/analytics/query",
            "Telemetry of devices, a tag, a type or the fleet: buckets and aggregations",
            etag=False, responses=not_found("device"),
        ),
        graphql=GraphQL("analytics_query", QUERY, input="AnalyticsQueryInput"),
    ),
)  # fmt: skip
