"""The one command path of both API adapters (issue 11, item 2).

Every REST write and GraphQL mutation is: authorize (the adapter: a REST dependency,
`info.context.authorize`) -> `build_command` -> `run_command`, which makes the one application
service call in a worker thread, waits (bounded) until the read model has applied it and answers
with the read model's row: read-your-writes, from the same source the queries read. Only when
the read model has not caught up within the bound is the answer built from the aggregate just
saved (`fallback`), so a write never answers with what it did not write.

    caller = info.context.authorize(Permission.WRITE_DEVICES)
    command = build_command(UpdateDevice, {"device_id": ..., "name": ...})
    status = await run_command(
        system, caller, system.device_service.update, command,
        read=system.devices.get, fallback=status_of_saved,
    )
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Protocol, TypeVar
from uuid import UUID

from anyio import to_thread
from eventsourcing.domain import Aggregate
from pydantic import ValidationError

from api.auth import Principal
from api.ports import FleetSystem
from event_store.envelope import EventMetadata
from write_side.application import Saved
from write_side.commands import Command
from write_side.errors import InvalidInput

log = logging.getLogger(__name__)

READ_YOUR_WRITES_TIMEOUT = 2.0  # seconds a command waits for the read model to catch up


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


C = TypeVar("C")
CommandT = TypeVar("CommandT", bound=Command)
A = TypeVar("A", bound=Aggregate)
R = TypeVar("R", bound=Versioned)


def build_command(command_class: type[CommandT], fields: Mapping[str, object]) -> CommandT:
    """The command, or InvalidInput naming the first field at fault (command field name)."""
    try:
        return command_class.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        field = next((part for part in first["loc"] if isinstance(part, str)), None)
        raise InvalidInput(first["msg"], field=field) from None


def caught_up(row: Versioned, aggregate: Versioned) -> bool:
    """The row holds the command's change (or a later one)."""
    return row.version >= aggregate.version


async def run_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[A]],
    command: C,
    *,
    read: Callable[[str, UUID], R | None],
    fallback: Callable[[Saved[A], R | None], R],
    fresh: Callable[[R, A], bool] = caught_up,
) -> R:
    """Run `command` for `caller` and answer with the read model's row of the aggregate it
    saved; `fallback(saved, row)` when the row is missing or not `fresh` after the wait."""
    run = partial(_run, system, caller, handle, command, read=read, fallback=fallback, fresh=fresh)
    return await to_thread.run_sync(run)


def _run(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[A]],
    command: C,
    *,
    read: Callable[[str, UUID], R | None],
    fallback: Callable[[Saved[A], R | None], R],
    fresh: Callable[[R, A], bool],
) -> R:
    saved = handle(command, caller.metadata())
    if not system.wait_for(saved.position, READ_YOUR_WRITES_TIMEOUT):
        name = type(command).__name__
        log.warning("read model still behind position %d after %s", saved.position, name)
    row = read(caller.tenant_id, saved.aggregate.id)
    if row is not None and fresh(row, saved.aggregate):
        return row
    return fallback(saved, row)
