"""Shared execution of live subscriptions (issue 14; docs/api.md 13.6).

Subscribers that sent the same document, operation and variables, of the same tenant and roles,
see the same events the same way: their subscription is executed ONCE per change, and the one
result handed to each of them (`SharedSubscriptions.join`). The group runs under a principal of
that tenant and those roles that never expires (`group_principal`); each member keeps its own
token and is ended with UNAUTHENTICATED at its first event after the token expired, as an
unshared subscription is. Each member has a bounded queue: one that falls `capacity` results
behind is ended with SUBSCRIBER_TOO_SLOW, the others are never held up (the group hands results
over without waiting). The group's fan-out subscription is released when its last member leaves.
Serialising once too is the websocket handler's part (`api.graphql.transport`): members of a
group get the same `data` object, whose JSON is made once.

Plain asyncio, one event loop (the server's); no I/O but the group's source.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLError,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    parse,
    visit,
)
from strawberry.types import ExecutionResult

from api.auth import LEEWAY_SECONDS, Principal
from api.graphql.transport import SERIALISED

Key = tuple[Hashable, ...]
Source = Callable[[], Awaitable[AsyncIterator[Any]]]  # starts the group's one execution
DEFAULT_CAPACITY = 256
DEFAULT_BACKLOG = 1 << 20  # bytes of a member's frames its socket may hold back
_END = object()


ALONE = frozenset({"events"})
"""Subscriptions never shared: the auditors' trail, whose every read is recorded under its
reader's name (a group runs under a principal of its own)."""


@lru_cache(maxsize=512)
def _resumes(query: str, operation_name: str | None) -> tuple[bool, frozenset[str]] | None:
    """None when the document's chosen operation is not a subscription (or does not parse: the
    unshared path reports the error, or is one that runs `ALONE`); else whether it passes
    `after` literally, and the variables it passes as `after`."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]  # fmt: skip
    if len(chosen) != 1 or chosen[0].operation is not OperationType.SUBSCRIPTION:
        return None
    roots = chosen[0].selection_set.selections
    if any(isinstance(f, FieldNode) and f.name.value in ALONE for f in roots):
        return None
    literal, variables = False, set()

    class Afters(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            nonlocal literal
            if node.name.value != "after":
                return
            if isinstance(node.value, VariableNode):
                variables.add(node.value.name.value)
            elif not isinstance(node.value, NullValueNode):
                literal = True

    visit(chosen[0], Afters())
    return literal, frozenset(variables)


def shareable(query: str, operation_name: str | None, variables: dict[str, Any] | None) -> bool:
    """Whether the operation is a live subscription a group may share: a subscription that
    resumes from a cursor (`after`, literal or a variable given a value) has a backfill of its
    own, so it runs alone."""
    found = _resumes(query, operation_name)
    if found is None:
        return False
    literal, names = found
    return not literal and all((variables or {}).get(name) is None for name in names)


def group_key(query: str, variables: dict[str, Any] | None, operation_name: str | None,
              caller: Principal) -> Key:  # fmt: skip
    """What a group shares: the document, the operation, the variables, the tenant, the roles."""
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"), default=str)
    return (query, operation_name, canonical, caller.tenant_id, tuple(sorted(caller.roles)))


def group_principal(caller: Principal) -> Principal:
    """The principal a group runs under: the caller's tenant and roles, no expiry."""
    return Principal(subject="shared-subscription", tenant_id=caller.tenant_id, roles=caller.roles)


def _error(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


class Frames(Protocol):
    """A member's own `next` frames, written by the group (`api.graphql.frames.NextFrames`)."""

    def write(self, data: bytes) -> bool:
        """The frame of a result whose `data` serialises to `data`; False: connection closing."""
        ...

    def backlog(self) -> int:
        """Bytes written to the connection and not yet taken by its socket."""
        ...


@dataclass(eq=False)
class _Member:
    caller: Principal
    capacity: int
    frames: Frames | None = None  # set: the group writes its results' frames itself
    queue: asyncio.Queue[Any] = field(init=False)
    ended: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.capacity + 1)  # + 1: room for the last word

    def offer(self, item: Any) -> None:
        if self.ended:
            return
        if self.queue.qsize() >= self.capacity and item is not _END:
            self.drop(f"fell {self.capacity} events behind")
            return
        self.queue.put_nowait(item)

    def drop(self, why: str) -> None:
        """End the member: its last word says why."""
        self.ended = True
        self.queue.put_nowait(_error(
            f"the subscriber {why} and was dropped; re-read and subscribe again",
            "SUBSCRIBER_TOO_SLOW",
        ))  # fmt: skip


@dataclass(eq=False)
class _Group:
    members: set[_Member] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class SharedSubscriptions:
    """The live groups of one process (one event loop). A member that brings its `frames` gets
    each result without errors as a frame the group writes (`_deliver`); the others, and every
    last word (an error, the end), go through the member's queue and its operation."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        backlog_limit: int = DEFAULT_BACKLOG,
    ) -> None:
        self.capacity = capacity
        self.backlog_limit = backlog_limit
        self.groups: dict[Key, _Group] = {}
        self.executions = 0  # results the groups executed (each delivered to all members)
        self.frames_written = 0  # deliveries written by a group (not through a member's queue)

    def subscribers(self) -> int:
        return sum(len(g.members) for g in self.groups.values())

    async def join(
        self, key: Key, caller: Principal, start: Source, frames: Frames | None = None
    ) -> AsyncGenerator[Any, None]:
        """The group's results for this member, from now on; the group is started by the first
        member (`start`) and stopped when the last one leaves. With `frames`, the results the
        group writes itself are not yielded here."""
        member = _Member(caller, self.capacity, frames)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group()
            group.task = asyncio.create_task(self._pump(key, group, start))
        group.members.add(member)
        try:
            while True:
                item = await member.queue.get()
                if item is _END:
                    return
                if _expired(member.caller, time.time()):
                    yield _error("token expired", "UNAUTHENTICATED")
                    return
                yield item
                if member.ended and member.queue.empty():
                    return
        finally:
            group.members.discard(member)
            if not group.members:  # the last one: stop it (registered or set aside by an error)
                if self.groups.get(key) is group:
                    del self.groups[key]
                if group.task is not None:
                    group.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await group.task

    async def _pump(self, key: Key, group: _Group, start: Source) -> None:
        source = await start()
        try:
            async for result in source:
                self.executions += 1
                if getattr(result, "errors", None) and self.groups.get(key) is group:
                    del self.groups[key]  # an error ends it: newcomers start afresh
                self._deliver(result, tuple(group.members))
        finally:
            if self.groups.get(key) is group:
                del self.groups[key]
            for member in tuple(group.members):
                member.offer(_END)
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def _deliver(self, result: Any, members: tuple[_Member, ...]) -> None:
        """Hand `result` to each member: written as its frame where the member has frames and
        the result is plain data (no errors, no extensions), else offered to its queue. A member
        whose token expired takes the queue (which ends it, UNAUTHENTICATED); one whose socket
        holds more than `backlog_limit` bytes back is dropped (SUBSCRIBER_TOO_SLOW)."""
        data = getattr(result, "data", None)
        plain = (
            isinstance(data, dict)
            and not getattr(result, "errors", None)
            and not getattr(result, "extensions", None)
        )
        serialised: bytes | None = None
        now = time.time()
        for member in members:
            frames = member.frames
            if frames is None or not plain or member.ended or _expired(member.caller, now):
                member.frames = None  # from now on through its queue: nothing overtakes it
                member.offer(result)
            elif frames.backlog() > self.backlog_limit:
                member.drop(f"left {self.backlog_limit} bytes unread")
            else:
                if serialised is None:  # the handler's cache: one serialisation per result
                    serialised = SERIALISED.utf8(data)
                if frames.write(serialised):
                    self.frames_written += 1


def _expired(caller: Principal, now: float) -> bool:
    return caller.expires_at is not None and caller.expires_at < now - LEEWAY_SECONDS
