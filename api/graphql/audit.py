"""GraphQL types of `events` (the operation is `api.audit`'s): `AuditEvent` is derived from the
one definition, `api.audit.AuditEventPublic`; REST's page, `AuditEventsPage`, is shown as a
connection."""

from __future__ import annotations

import strawberry

from api.as_of import AsOfPublic
from api.audit import AuditEventPublic, AuditEventsPage
from api.graphql.derive import derived_type, registered
from api.graphql.scalars import Long
from api.graphql.types import PageInfo
from write_side.entity_kinds import EntityKind

strawberry.enum(EntityKind, name="EntityKind")


@derived_type(AuditEventPublic, name="AuditEvent")
class AuditEvent:
    view: strawberry.Private[AuditEventPublic]


@derived_type(AsOfPublic, name="EntityAsOf")
class EntityAsOf:
    view: strawberry.Private[AsOfPublic]


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@registered
@strawberry.type
class AuditEventConnection:
    view: strawberry.Private[AuditEventsPage]

    @strawberry.field
    def edges(self) -> list[AuditEventEdge]:
        return [AuditEventEdge(cursor=e.cursor, node=AuditEvent(view=e)) for e in self.view.items]

    @strawberry.field
    def page_info(self) -> PageInfo:
        cursor = self.view.next_cursor
        return PageInfo(has_next_page=cursor is not None, end_cursor=cursor)

    @strawberry.field
    def head_position(self) -> Long:
        return self.view.head_position

    @strawberry.field
    def scanned(self) -> int:
        return self.view.scanned

    @strawberry.field
    def budget_exhausted(self) -> bool:
        return self.view.budget_exhausted
