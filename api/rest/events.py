"""REST `GET /events`: the audit history (auditors and admins); the page is the one definition,
`api.audit.AuditEventsPage`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.audit import MAX_EVENTS, AuditEventsPage, read_events
from api.auth import Permission, Principal
from api.rest.deps import SystemDep, require
from api.rest.errors import ERROR_RESPONSES

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)
Auditor = Annotated[Principal, Depends(require(Permission.READ_EVENTS))]


@router.get(
    "/events",
    summary="The tenant's event history in feed order, or one stream's (auditor, admin)",
    response_model_by_alias=True,
)
async def list_events(
    *,
    caller: Auditor,
    system: SystemDep,
    after: Annotated[str | None, Query(description="A cursor from a previous page.")] = None,
    stream_id: Annotated[UUID | None, Query(alias="streamId")] = None,
    types: Annotated[list[str] | None, Query(description="e.g. Device.Registered")] = None,
    first: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> AuditEventsPage:
    types_wanted = tuple(types or ())
    return await read_events(
        system, caller, after=after, stream_id=stream_id, types=types_wanted, first=first
    )
