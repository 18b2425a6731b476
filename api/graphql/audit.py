"""GraphQL `events`: the audit history (auditors and admins)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.audit import jsonable, read_events
from api.auth import Permission
from api.devices import parse_device_id
from api.graphql.context import Info
from api.graphql.scalars import Long
from api.graphql.types import PageInfo


@strawberry.type
class AuditEvent:
    event_id: strawberry.ID
    position: Long | None  # None when read by stream
    cursor: str
    stream_id: strawberry.ID
    version: int
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    payload: JSON


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo
    head_position: Long


@strawberry.type
class AuditQuery:
    @strawberry.field
    async def events(
        self,
        info: Info,
        after: str | None = None,
        stream_id: strawberry.ID | None = None,
        types: list[str] | None = None,
        first: int = 100,
    ) -> AuditEventConnection:
        """The tenant's events in feed order, or one stream's in version order."""
        caller = info.context.authorize(Permission.READ_EVENTS)
        page = await read_events(
            info.context.system,
            caller,
            after=after,
            stream_id=None if stream_id is None else parse_device_id(stream_id, "streamId"),
            types=tuple(types or ()),
            first=first,
        )
        edges = [
            AuditEventEdge(
                cursor=cursor,
                node=AuditEvent(
                    event_id=strawberry.ID(str(e.event_id)),
                    position=None if e.position is None else Long(e.position),
                    cursor=cursor,
                    stream_id=strawberry.ID(e.stream_id),
                    version=e.version,
                    type=e.type,
                    schema_version=e.schema_version,
                    occurred_at=e.occurred_at,
                    recorded_at=e.recorded_at,
                    actor=e.actor,
                    correlation_id=e.correlation_id,
                    causation_id=e.causation_id,
                    payload=JSON(jsonable(e.payload)),
                ),
            )
            for e, cursor in zip(page.events, page.cursors, strict=True)
        ]
        return AuditEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor
            ),
            head_position=Long(page.head_position),
        )
