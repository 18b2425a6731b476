"""The auditors' read of the event history, one operation (`api.operations`): GraphQL `events`
and REST `GET /events`; and its shapes, declared once (issue 11, item 1): `AuditEventPublic` is
REST's item and the GraphQL `AuditEvent` is derived from it; `AuditEventsPage` is REST's page,
which GraphQL shows as a connection (edges, `pageInfo`: `api.graphql.audit`).

The whole tenant's history in feed order (cursor = feed position), or one stream's in version
order (cursor = version). Another tenant's events are never returned, not even their existence.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import strawberry
from anyio import to_thread
from fastapi import Query

from api.auth import Permission
from api.device_view import View
from api.devices import parse_device_id
from api.graphql.scalars import Long
from api.operations import QUERY, Arg, Call, GraphQL, Operation, Rest
from api.ports import FleetSystem
from event_store.envelope import EventEnvelope
from write_side.errors import InvalidInput

MAX_EVENTS = 1000
MAX_POSITION = 2**63 - 1


class AuditEventPublic(View):
    event_id: UUID
    position: Long | None  # None when read by stream
    cursor: str
    stream_id: UUID  # an aggregate's id (the envelope's `originator_id`)
    version: int
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any]

    @classmethod
    def from_envelope(cls, event: EventEnvelope, cursor: str) -> AuditEventPublic:
        """The event as shown: every field but the cursor is the envelope's of the same name."""
        shown = {name: getattr(event, name) for name in cls.model_fields if name != "cursor"}
        return cls(**shown | {"cursor": cursor, "payload": jsonable(event.payload)})


class AuditEventsPage(View):
    items: list[AuditEventPublic]
    next_cursor: str | None
    head_position: Long


def parse_cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not (after.isascii() and after.isdigit()) or int(after) > MAX_POSITION:
        raise InvalidInput("after must be a cursor returned by a previous page", field="after")
    return int(after)


def check_limit(first: int) -> int:
    if not 1 <= first <= MAX_EVENTS:
        raise InvalidInput(f"first must be between 1 and {MAX_EVENTS}", field="first")
    return first


def jsonable(value: Any) -> Any:
    """A payload as plain JSON values (datetimes and UUIDs as strings)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _read(
    system: FleetSystem,
    tenant_id: str,
    *,
    after: int,
    stream_id: UUID | None,
    types: tuple[str, ...],
    first: int,
) -> AuditEventsPage:
    log = system.event_log
    head = log.head()
    if stream_id is None:
        events = log.read_feed(after=after, limit=first + 1, tenant_id=tenant_id, types=types)
        cursors = [str(e.position) for e in events]
    else:
        events = [
            e
            for e in log.read_stream(stream_id)
            if e.tenant_id == tenant_id and e.version > after and (not types or e.type in types)
        ][: first + 1]
        cursors = [str(e.version) for e in events]
    shown = zip(events[:first], cursors[:first], strict=True)
    return AuditEventsPage(
        items=[AuditEventPublic.from_envelope(event, cursor) for event, cursor in shown],
        next_cursor=cursors[first - 1] if len(events) > first else None,
        head_position=Long(head),
    )


async def read_events(call: Call) -> AuditEventsPage:
    read = functools.partial(
        _read,
        call.system,
        call.caller.tenant_id,
        after=parse_cursor(call["after"]),
        stream_id=call["stream_id"],
        types=tuple(call["types"] or ()),
        first=check_limit(call["first"]),
    )
    return await to_thread.run_sync(read)


OPERATIONS = (
    Operation(
        "list_events", Permission.READ_EVENTS, read_events, AuditEventsPage,
        args=(
            Arg(
                "after", Annotated[str | None, Query(description="A cursor from a previous page.")],
                str | None, None,
            ),
            Arg(
                "stream_id", Annotated[UUID | None, Query(alias="streamId")],
                strawberry.ID | None, None, parse_device_id,
            ),
            Arg(
                "types", Annotated[list[str] | None, Query(description="e.g. Device.Registered")],
                list[str] | None, None,
            ),
            Arg("first", Annotated[int, Query(ge=1, le=MAX_EVENTS)], int, 100),
        ),
        rest=Rest(
            "GET", "/events",
            "The tenant's event history in feed order, or one stream's (auditor, admin)",
            etag=False,
        ),
        graphql=GraphQL("events", QUERY, output="AuditEventConnection"),
    ),
)  # fmt: skip
