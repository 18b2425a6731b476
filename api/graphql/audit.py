"""GraphQL `events`: the audit history (auditors and admins). `AuditEvent` is derived from the
one definition, `api.audit.AuditEventPublic`; the page is shown as a connection."""

from __future__ import annotations

import strawberry

from api.audit import AuditEventPublic, read_events
from api.auth import Permission
from api.devices import parse_device_id
from api.graphql.context import Info
from api.graphql.derive import derived_type
from api.graphql.scalars import Long
from api.graphql.types import PageInfo


@derived_type(AuditEventPublic, name="AuditEvent")
class AuditEvent:
    view: strawberry.Private[AuditEventPublic]


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
        return AuditEventConnection(
            edges=[AuditEventEdge(cursor=e.cursor, node=AuditEvent(view=e)) for e in page.items],
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor
            ),
            head_position=page.head_position,
        )
