"""GraphQL subscription `events`: the auditors' live trail. Every event of the caller's tenant
(or of one stream, or of some kinds, types or actor: the criteria of the `events` query) in
feed order, exact and resumable: each event's `cursor` is its feed position, and a client that
subscribes again with `after: <the last cursor it received>` gets every event since, in order,
then the new ones as they are recorded; nothing missed, nothing twice, across API processes
(the cursor is a position of the one feed).

It reads the feed itself, not the change fan-out: a page of at most `PAGE` matches (a scan of at
most `DEFAULT_BUDGET` feed items) at a time, in a worker thread, the next page only once the
client has taken the last (a slow client slows only itself); at the head it waits on the event
loop for the feed to move (`api.graphql.feed_heads`: one thread per process for all of them).
The subscription is recorded once as a read of the trail (operation `events.subscribe`, with its
criteria) before its first event; a caller whose credentials expire is ended, as with every
subscription. Never shared between subscribers (`api.graphql.shared`): each read is recorded
under its reader's name.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator

import strawberry
from anyio import to_thread

from api.audit import (
    AuditEventPublic,
    history_selection,
    parse_cursor,
    parse_entity_id,
    record_trail_read,
)
from api.auth import Permission, authorize
from api.graphql.audit import AuditEvent
from api.graphql.context import Info
from api.graphql.feed_heads import feed_heads
from api.ports import FleetSystem
from event_store.envelope import EventEnvelope
from event_store.feed_scan import FeedFilter, scan_feed
from write_side.entity_kinds import EntityKind

PAGE = 100  # matches read at a time


@strawberry.type
class AuditSubscription:
    @strawberry.subscription
    async def events(  # noqa: PLR0917 - the query's own criteria
        self,
        info: Info,
        after: str | None = None,
        stream_id: strawberry.ID | None = None,
        kinds: list[EntityKind] | None = None,
        types: list[str] | None = None,
        actor: str | None = None,
    ) -> AsyncGenerator[AuditEvent, None]:
        """Every event of the tenant recorded from now on (auditors, admins), or of one stream,
        or of some kinds, types or actor (as the `events` query selects); with `after` (the
        `cursor` of the last event received, a feed position), first every such event since,
        in order: nothing missed, nothing twice."""
        caller = info.context.authorize(Permission.READ_EVENTS)
        system = info.context.system
        stream = None if stream_id is None else parse_entity_id(stream_id, "streamId")
        selection = history_selection(
            caller.tenant_id, kinds=kinds, types=types, stream_id=stream, actor=actor
        )
        start = None if after is None else parse_cursor(after)
        criteria = {"after": after, "stream_id": stream, "kinds": kinds, "types": types,
                    "actor": actor}  # fmt: skip
        await record_trail_read(system, caller, "events.subscribe", criteria, 0)
        position = start if start is not None else await to_thread.run_sync(system.event_log.head)
        heads = feed_heads(system.event_log.recorder)
        async with heads.following():
            while True:
                read = functools.partial(_page, system, selection, position)
                events, position, more = await to_thread.run_sync(read)
                for event in events:
                    authorize(caller, Permission.READ_EVENTS)
                    view = AuditEventPublic.from_envelope(event, str(event.position))
                    yield AuditEvent(view=view)
                if not more:
                    await heads.passed(position)


def _page(
    system: FleetSystem, selection: FeedFilter, after: int
) -> tuple[list[EventEnvelope], int, bool]:
    """The next matches after `after`, where to go on from, and whether more may be there
    already (False: the scan reached the head)."""
    log = system.event_log
    found = scan_feed(log.recorder, log.mapper, selection, after=after, first=PAGE)
    if found.next_after is not None:  # a full page, or the budget spent: go on at once
        return found.events, found.next_after, True
    return found.events, found.read_to, False
