"""REST `GET /events`: the audit history (auditors and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from api.audit import MAX_EVENTS, jsonable, read_events
from api.auth import Permission, Principal
from api.rest.deps import SystemDep, require
from api.rest.errors import ERROR_RESPONSES

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)
Auditor = Annotated[Principal, Depends(require(Permission.READ_EVENTS))]


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AuditEventPublic(Camel):
    event_id: UUID
    position: int | None
    cursor: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any]


class AuditEventsPage(Camel):
    items: list[AuditEventPublic]
    next_cursor: str | None
    head_position: int


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
    page = await read_events(
        system, caller, after=after, stream_id=stream_id, types=tuple(types or ()), first=first
    )
    return AuditEventsPage(
        items=[
            AuditEventPublic(
                event_id=e.event_id,
                position=e.position,
                cursor=cursor,
                stream_id=e.stream_id,
                version=e.version,
                type=e.type,
                schema_version=e.schema_version,
                occurred_at=e.occurred_at,
                recorded_at=e.recorded_at,
                actor=e.actor,
                correlation_id=e.correlation_id,
                causation_id=e.causation_id,
                payload=jsonable(e.payload),
            )
            for e, cursor in zip(page.events, page.cursors, strict=True)
        ],
        next_cursor=page.next_cursor,
        head_position=page.head_position,
    )
