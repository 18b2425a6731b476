"""The device use cases both API adapters share: run a command for a caller, and the
`DeviceStatus` that every response is built from (from the read model, from the aggregate a
command saved, or from a change notice)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, get_type_hints
from uuid import UUID

from anyio import to_thread
from pydantic import ValidationError

from api.auth import Principal
from api.ports import FleetSystem
from event_store.envelope import EventMetadata
from read_side.device_status import DeviceStatus
from write_side.application import Saved
from write_side.commands import Command
from write_side.devices import Device
from write_side.errors import InvalidInput

log = logging.getLogger(__name__)

DEVICE_TOPIC = "device"
READ_YOUR_WRITES_TIMEOUT = 2.0  # seconds a command waits for the read model to catch up

C = TypeVar("C")
CommandT = TypeVar("CommandT", bound=Command)
Handler = Callable[[C, EventMetadata], Saved[Device]]


async def execute(
    system: FleetSystem, caller: Principal, handle: Handler[C], command: C
) -> DeviceStatus:
    """Run `command` in a worker thread, wait (bounded) until the read model has applied it,
    and return the device as saved."""
    return await to_thread.run_sync(partial(_execute, system, caller, handle, command))


def _execute(
    system: FleetSystem, caller: Principal, handle: Handler[C], command: C
) -> DeviceStatus:
    saved = handle(command, caller.metadata())
    if not system.wait_for(saved.position, READ_YOUR_WRITES_TIMEOUT):
        log.warning("read model still behind position %d after a command", saved.position)
    status = status_of(saved.aggregate, saved.position)
    # The row adds what the aggregate does not hold (telemetry, connectivity, open alerts).
    row = system.devices.get(caller.tenant_id, status.device_id)
    return row if row is not None and row.version == status.version else status


def build_command(command_class: type[CommandT], fields: Mapping[str, object]) -> CommandT:
    """The command, or InvalidInput naming the first field at fault (command field name)."""
    try:
        return command_class.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        field = next((part for part in first["loc"] if isinstance(part, str)), None)
        raise InvalidInput(first["msg"], field=field) from None


def parse_device_id(value: str, field: str = "id") -> UUID:
    try:
        return UUID(value)
    except (ValueError, TypeError):
        raise InvalidInput("not a device id (expected a UUID)", field=field) from None


def status_of(device: Device, position: int = 0) -> DeviceStatus:
    return DeviceStatus(
        device_id=device.id,
        tenant_id=device.tenant_id,
        name=device.name,
        device_type=device.device_type,
        tags=tuple(device.tags),
        metadata=dict(device.metadata),
        lifecycle="decommissioned" if device.is_decommissioned else "active",
        version=device.version,
        registered_at=device.created_on,
        updated_at=device.modified_on,
        decommissioned_at=device.decommissioned_at,
        decommission_reason=device.decommission_reason,
        position=position,
    )


def device_status_from_notice_data(data: Mapping[str, Any]) -> DeviceStatus:
    """The `DeviceStatus` a projection worker put in a change notice (the JSON-ready form of
    `projections.device_status.status_to_json`). Every field of the row is taken by name, so a
    field added to `DeviceStatus` needs no edit here; only what JSON cannot carry as it is (the
    id, times, the tags' tuple) is converted, the times found by their declared type. A field
    missing or null in the notice keeps the row's default."""
    values = {name: data[name] for name in _STATUS_FIELDS if data.get(name) is not None}
    values["device_id"] = UUID(str(values["device_id"]))
    values["tags"] = tuple(values.get("tags", ()))
    for name in _TIME_FIELDS & values.keys():
        values[name] = datetime.fromisoformat(values[name])
    values["last_values"] = {m: float(v) for m, v in values.get("last_values", {}).items()}
    values["last_values_at"] = {
        m: datetime.fromisoformat(at) for m, at in values.get("last_values_at", {}).items()
    }
    return DeviceStatus(**values)


_STATUS_FIELDS = tuple(f.name for f in fields(DeviceStatus))
_TIME_FIELDS = frozenset(
    name
    for name, hint in get_type_hints(DeviceStatus).items()
    if hint in (datetime, datetime | None)
)
