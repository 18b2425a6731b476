"""The auditors' read of the event history, one operation (`api.operations`): GraphQL `events`
and REST `GET /events`; and its shapes, declared once (issue 11, item 1): `AuditEventPublic` is
REST's item and the GraphQL `AuditEvent` is derived from it; `AuditEventsPage` is REST's page,
which GraphQL shows as a connection (edges, `pageInfo`: `api.graphql.audit`).

The whole tenant's history in feed order (cursor = feed position), or one stream's in version
order (cursor = version). Another tenant's events are never returned, not even their existence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import strawberry
from anyio import to_thread
from fastapi import Query

from api.auth import Permission, Principal
from api.device_view import View
from api.graphql.scalars import Long
from api.operations import QUERY, Arg, Call, GraphQL, Operation, Rest, parse_id
from api.ports import FleetSystem
from event_store.envelope import EventEnvelope
from event_store.feed_scan import DEFAULT_BUDGET, FeedFilter, scan_feed, scan_stream
from read_side.times import as_utc
from write_side.entity_kinds import EntityKind, is_change, select_kinds
from write_side.errors import InvalidInput

MAX_EVENTS = 1000
MAX_POSITION = 2**63 - 1
parse_entity_id = parse_id("an entity id")


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
    scanned: int  # feed (or stream) items this page read
    budget_exhausted: bool  # the scan budget ran out before `first` matches: continue


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
    system: FleetSystem, selection: FeedFilter, stream_id: UUID | None, after: int, first: int
) -> AuditEventsPage:
    log = system.event_log
    head = log.head()
    if stream_id is None:
        found = scan_feed(log.recorder, log.mapper, selection, after=after, first=first)
    else:
        found = scan_stream(
            log.recorder, log.mapper, stream_id, selection, after=after, first=first
        )

    def cursor(event: EventEnvelope) -> str:
        return str(event.position if stream_id is None else event.version)

    return AuditEventsPage(
        items=[AuditEventPublic.from_envelope(event, cursor(event)) for event in found.events],
        next_cursor=None if found.next_after is None else str(found.next_after),
        head_position=Long(head),
        scanned=found.scanned,
        budget_exhausted=found.exhausted,
    )


def history_filter(call: Call) -> FeedFilter:
    """The criteria of a history read (`history_selection`) from an operation's arguments."""
    return history_selection(
        call.caller.tenant_id, kinds=call["kinds"], types=call["types"],
        stream_id=call["stream_id"], actor=call["actor"], since=call["since"],
        until=call["until"],
    )  # fmt: skip


def history_selection(
    tenant_id: str,
    *,
    kinds: list[EntityKind] | None = None,
    types: list[str] | None = None,
    stream_id: UUID | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> FeedFilter:
    """The criteria of a history read. Kinds select their topics; without kinds, types alone
    select (the record of reads included), and without either the feed shows every change
    (`is_change`); a stream named by id shows all of its events."""
    chosen = frozenset(types or ())
    topic: Callable[[str], bool] | None = None
    if kinds:
        topic = select_kinds(kinds)
    elif not chosen and stream_id is None:
        topic = is_change
    return FeedFilter(
        tenant_id=tenant_id,
        actor=actor or None,
        topic=topic,
        types=chosen,
        since=None if since is None else as_utc(since, "since"),
        until=None if until is None else as_utc(until, "until"),
        stream_id=None if stream_id is None else str(stream_id),
    )


async def read_events(call: Call) -> AuditEventsPage:
    read = functools.partial(
        _read, call.system, history_filter(call), call["stream_id"],
        parse_cursor(call["after"]), check_limit(call["first"]),
    )  # fmt: skip
    page = await to_thread.run_sync(read)
    await record_read(call, "events", len(page.items))
    return page


async def record_read(call: Call, operation: str, returned: int) -> None:
    """Every read of the trail is recorded before it is answered (docs/audit.md 19.3); a read
    that cannot be recorded is not answered."""
    await record_trail_read(call.system, call.caller, operation, call.args, returned)


async def record_trail_read(
    system: FleetSystem,
    caller: Principal,
    operation: str,
    args: Mapping[str, Any],
    returned: int,
) -> None:
    """`record_read` for any caller of the trail (the `events` subscription, once)."""
    criteria = {name: jsonable(value) for name, value in args.items() if value is not None}
    record = functools.partial(
        system.audit_service.record_read, caller.metadata(), operation, criteria, returned
    )
    await to_thread.run_sync(record)


def _optional(name: str, rest: Any, graphql: Any, description: str) -> Arg:
    return Arg(name, Annotated[rest | None, Query(description=description)], graphql | None, None)


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
                strawberry.ID | None, None, parse_entity_id,
            ),
            _optional("kinds", list[EntityKind], list[EntityKind], "Entity kinds, e.g. device"),
            _optional("types", list[str], list[str], "Event types, e.g. Device.Registered"),
            _optional("actor", str, str, "Who caused the events, e.g. user:alice"),
            _optional("since", datetime, datetime, "Recorded at or after (ISO 8601)."),
            _optional("until", datetime, datetime, "Recorded before (ISO 8601)."),
            Arg("first", Annotated[int, Query(ge=1, le=MAX_EVENTS)], int, 100),
        ),
        rest=Rest(
            "GET", "/events",
            "The tenant's history in feed order, or one stream's, filtered; each page reads at "
            f"most {DEFAULT_BUDGET} events (auditor, admin)",
            etag=False,
        ),
        graphql=GraphQL("events", QUERY, output="AuditEventConnection"),
    ),
)  # fmt: skip
