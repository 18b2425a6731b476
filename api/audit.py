"""The auditors' read of the event history, shared by GraphQL `events` and REST `GET /events`.

The whole tenant's history in feed order (cursor = feed position), or one stream's in version
order (cursor = version). Another tenant's events are never returned, not even their existence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from anyio import to_thread

from api.auth import Principal
from api.ports import FleetSystem
from event_store.envelope import EventEnvelope
from write_side.errors import InvalidInput

MAX_EVENTS = 1000
MAX_POSITION = 2**63 - 1


@dataclass(frozen=True)
class AuditPage:
    events: list[EventEnvelope]
    cursors: list[str]
    next_cursor: str | None
    head_position: int


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
) -> AuditPage:
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
    more = len(events) > first
    return AuditPage(events[:first], cursors[:first], cursors[first - 1] if more else None, head)


async def read_events(
    system: FleetSystem,
    caller: Principal,
    *,
    after: str | None,
    stream_id: UUID | None,
    types: tuple[str, ...],
    first: int,
) -> AuditPage:
    position = parse_cursor(after)
    limit = check_limit(first)
    read = functools.partial(
        _read,
        system,
        caller.tenant_id,
        after=position,
        stream_id=stream_id,
        types=types,
        first=limit,
    )
    return await to_thread.run_sync(read)
