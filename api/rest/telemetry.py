"""REST telemetry history: `GET /devices/{deviceId}/history?metric=&from=&to=&resolution=`.

Raw readings (`resolution=raw`) or pre-aggregated buckets (`1m`, `1h`, `1d`) of one metric over
`[from, to)`, oldest first, paged with `first` and `after` (the previous page's `nextCursor`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import Field

from api.rest.deps import Reader, SystemDep
from api.rest.errors import ERROR_RESPONSES, NOT_FOUND
from api.rest.models import CamelModel
from api.telemetry import read_history
from read_side.paging import Page
from read_side.telemetry import DEFAULT_HISTORY_PAGE, Bucket, HistoryQuery, RawReading, Resolution

router = APIRouter(prefix="/devices", tags=["telemetry"], responses=ERROR_RESPONSES)


class ReadingPublic(CamelModel):
    at: datetime = Field(description="Device time.")
    value: float
    message_id: str


class BucketPublic(CamelModel):
    start: datetime
    end: datetime
    min: float
    max: float
    avg: float
    count: int


class HistoryPublic(CamelModel):
    device_id: UUID
    metric: str
    resolution: Literal["raw", "1m", "1h", "1d"]
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    readings: list[ReadingPublic] = Field(description="For `resolution=raw`, else empty.")
    buckets: list[BucketPublic] = Field(description="For `1m`, `1h`, `1d`, else empty.")
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def from_page(cls, query: HistoryQuery, page: Page[RawReading] | Page[Bucket]) -> HistoryPublic:
        return cls(
            device_id=query.device_id,
            metric=query.metric,
            resolution=query.resolution.value,
            start=query.start,
            end=query.end,
            readings=[
                ReadingPublic(at=r.at, value=r.value, message_id=r.message_id)
                for r in page.items
                if isinstance(r, RawReading)
            ],
            buckets=[
                BucketPublic(
                    start=b.start, end=b.end, min=b.min, max=b.max, avg=b.avg, count=b.count
                )
                for b in page.items
                if isinstance(b, Bucket)
            ],
            next_cursor=page.next_cursor,
        )


@router.get(
    "/{deviceId}/history",
    summary="A device's telemetry history: raw readings or min/max/avg/count buckets",
    responses=NOT_FOUND,
    response_model_by_alias=True,
)
def device_history(
    *,
    device_id: Annotated[UUID, Path(alias="deviceId", description="The device's id.")],
    caller: Reader,
    system: SystemDep,
    metric: Annotated[str, Query(description="Metric name, e.g. `temp`.")],
    start: Annotated[datetime, Query(alias="from", description="Inclusive (ISO 8601).")],
    end: Annotated[datetime, Query(alias="to", description="Exclusive (ISO 8601).")],
    resolution: Literal["raw", "1m", "1h", "1d"] = "raw",
    first: int = DEFAULT_HISTORY_PAGE,
    after: Annotated[str | None, Query(description="`nextCursor` of the previous page.")] = None,
) -> HistoryPublic:
    query = HistoryQuery.checked(
        device_id, metric, start, end, resolution=Resolution(resolution), first=first, after=after
    )
    return HistoryPublic.from_page(query, read_history(system, caller, query))
