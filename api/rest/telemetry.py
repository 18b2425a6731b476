"""REST telemetry history: `GET /devices/{deviceId}/history?metric=&from=&to=&resolution=`.

Raw readings (`resolution=raw`) or pre-aggregated buckets (`1m`, `1h`, `1d`) of one metric over
`[from, to)`, oldest first, paged with `first` and `after` (the previous page's `nextCursor`).
The response is the slice's one definition, `api.telemetry.HistoryPublic`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from api.rest.deps import Reader, SystemDep
from api.rest.errors import ERROR_RESPONSES, NOT_FOUND
from api.telemetry import HistoryPublic, read_history
from read_side.telemetry import DEFAULT_HISTORY_PAGE, HistoryQuery, Resolution

router = APIRouter(prefix="/devices", tags=["telemetry"], responses=ERROR_RESPONSES)


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
    resolution: Resolution = Resolution.RAW,
    first: int = DEFAULT_HISTORY_PAGE,
    after: Annotated[str | None, Query(description="`nextCursor` of the previous page.")] = None,
) -> HistoryPublic:
    query = HistoryQuery.checked(
        device_id, metric, start, end, resolution=resolution, first=first, after=after
    )
    return read_history(system, caller, query)
