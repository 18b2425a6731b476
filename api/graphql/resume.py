"""Resumable subscriptions (issue 14; docs/api.md 13.6): a client that reconnects with
`after: <cursor>` (the `position` of the last change it got) receives, for a state
subscription (`Resume`), the current row of every key that changed since, and for an exact one
(`ExactResume`: `telemetry`), every notice since in order; then it continues live. Nothing
missed, nothing shown twice.

    notices = changes(system, caller, DEVICE_TOPIC, READ, keep, after, lambda: Resume(...))
    async with aclosing(notices):
        async for notice in notices:
            yield DeviceChange.from_notice(notice)

1. Subscribe to the live topic first (buffered by the fan-out; on Redis, once confirmed).
2. Read the position `upto` the model that publishes the topic has applied (its worker here,
   its checkpoint when another process runs it).
3. Backfill: the feed `(after, upto]` of the caller's tenant and the topic's event types,
   scanned once (`RESUME_BUDGET` notifications at most: beyond, RESUME_TOO_OLD, re-read and
   subscribe afresh); state: each changed key's current row is sent once, keys in the order
   of their last change, each with that change's position as its cursor (so resuming from any
   of them again misses nothing); exact: each notice the model published, in order.
4. Live: every notice at or below `upto` is dropped (the backfill showed it), the rest pass.

The rows are read after `upto`, so they are at least as new as it. Works through Redis fan-out
and across API processes: the cursor is a feed position, the same everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

from anyio import to_thread

from api.auth import Permission, Principal, authorize
from api.graphql.notices import close_stream, tenant_notices
from api.ports import FleetSystem
from event_store.envelope import EventEnvelope
from read_side.notifications import ChangeNotice
from write_side.errors import DomainError, InvalidInput

RESUME_BUDGET = 50_000  # notifications a backfill may scan
PAGE = 1000
# (keys changed, in the order of their last change, with that change's position and type)
Changed = list[tuple[str, int, str]]
Rows = Callable[[str, Changed], Iterable[ChangeNotice]]  # (tenant, changed) -> their notices


def stream_key(envelope: EventEnvelope) -> str:
    """The key of a model whose rows are its events' streams (devices, alerts, exports)."""
    return envelope.stream_id


ReadMany = Callable[[str, list[UUID]], Mapping[UUID, Any]]  # (tenant, ids) -> rows found


def one_by_one(get: Callable[[str, UUID], Any | None]) -> ReadMany:
    """A batch read of a model whose reader reads one row at a time."""

    def read(tenant: str, ids: list[UUID]) -> dict[UUID, Any]:
        return {i: row for i in ids if (row := get(tenant, i)) is not None}

    return read


def current_rows(topic: str, read: ReadMany, encode: Callable[[Any], dict[str, Any]]) -> Rows:
    """The current row of each changed key (read in one batch; gone: left out), as the notice
    its model would publish (`encode`), each with its last change's position and type."""

    def rows(tenant: str, changed: Changed) -> list[ChangeNotice]:
        found = read(tenant, [UUID(key) for key, _, _ in changed])
        return [
            ChangeNotice(tenant, topic, key, position, kind, encode(row))
            for key, position, kind in changed
            if (row := found.get(UUID(key))) is not None
        ]

    return rows


class ResumeTooOld(DomainError):
    code = "RESUME_TOO_OLD"


def parse_cursor(after: str) -> int:
    """A change's `position`, as the client got it; INVALID_INPUT on `after` otherwise."""
    text = after.strip()
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput("a cursor is the `position` of a change received", "after")
    return int(text)


@dataclass(frozen=True)
class Resume:
    """How a state subscription resumes: the model that publishes its topic, the event types
    that change its rows, the key an event changes (None: none), the current rows of keys."""

    model: str
    types: Sequence[str]
    key_of: Callable[[EventEnvelope], str | None]
    rows: Rows


@dataclass(frozen=True)
class ExactResume:
    """How an exact subscription resumes: every notice its model published since the cursor,
    in feed order (`notices(tenant, after, upto)`, as the model published them)."""

    model: str
    notices: Callable[[str, int, int], Iterable[ChangeNotice]]


def changes(  # noqa: PLR0917 - the subscription's own arguments
    system: FleetSystem,
    caller: Principal,
    topic: str,
    permission: Permission,
    keep: Callable[[ChangeNotice], bool],
    after: str | None,
    resume: Callable[[], Resume | ExactResume],
) -> AsyncGenerator[ChangeNotice, None]:
    """A subscription's notices: live (`tenant_notices`), or with a cursor the backfill since
    it, then live (`resumed`, as `resume()` says)."""
    if after is None:
        return tenant_notices(system, caller, topic, permission, keep)
    return resumed(system, caller, topic, permission, parse_cursor(after), resume(), keep)


async def resumed(  # noqa: PLR0917 - the subscription's own arguments
    system: FleetSystem,
    caller: Principal,
    topic: str,
    permission: Permission,
    after: int,
    resume: Resume | ExactResume,
    keep: Callable[[ChangeNotice], bool] = lambda notice: True,
) -> AsyncGenerator[ChangeNotice, None]:
    """The backfill since `after`, then the live notices (see the module)."""
    stream = system.fanout.subscribe(caller.tenant_id, topic)
    try:
        ready = getattr(stream, "ready", None)
        if ready is not None:
            await ready()
        upto = system.position(resume.model)
        if upto - after > RESUME_BUDGET:
            raise ResumeTooOld(
                f"{upto - after} changes since the cursor, over the budget of {RESUME_BUDGET}: "
                "re-read with queries and subscribe without `after`"
            )
        backfill = partial(_backfill, system, caller.tenant_id, resume, after, upto)
        for notice in await to_thread.run_sync(backfill):
            if keep(notice):
                authorize(caller, permission)
                yield notice
        async for notice in stream:
            if notice.position <= upto or notice.tenant_id != caller.tenant_id:
                continue
            if keep(notice):
                authorize(caller, permission)
                yield notice
    finally:
        await close_stream(stream)


def _backfill(
    system: FleetSystem, tenant: str, resume: Resume | ExactResume, after: int, upto: int
) -> list[ChangeNotice]:
    """The notices since `after` up to `upto`: each changed key's current row once (state),
    or every notice in order (exact)."""
    if isinstance(resume, ExactResume):
        return list(resume.notices(tenant, after, upto))
    changed = _scan(
        system, tenant, after=after, upto=upto, types=resume.types, key_of=resume.key_of
    )
    return list(resume.rows(tenant, changed))


def _scan(
    system: FleetSystem, tenant: str, *, after: int, upto: int, types: Sequence[str],
    key_of: Callable[[EventEnvelope], str | None],
) -> Changed:  # fmt: skip
    last: dict[str, tuple[int, str]] = {}
    events = system.event_log.read_range(
        after=after, up_to=upto, tenant_id=tenant, types=types, page=PAGE
    )
    for envelope in events:
        key = key_of(envelope)
        if key is not None:
            assert envelope.position is not None  # read from the feed
            last.pop(key, None)  # re-inserted: dicts keep the order of the last change
            last[key] = (envelope.position, envelope.type)
    return [(key, pos, kind) for key, (pos, kind) in last.items()]
