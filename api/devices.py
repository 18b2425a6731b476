"""The device use cases both API adapters share: register, update and decommission a device from
its input shape (`api.device_view`) through the one command path (`api.command_path`), and the
`DeviceStatus` that every response is built from (from the read model, from the aggregate a
command saved, or from a change notice). A REST route and a GraphQL mutation differ only in
how they take the shape in and show the status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from api.auth import Principal
from api.command_path import build_command, run_command
from api.device_view import DeviceCreate, DeviceDecommission, DeviceUpdate
from api.ports import FleetSystem
from event_store.envelope import EventMetadata
from read_side.device_status import DeviceStatus
from read_side.device_status.columns import STATUS_JSON
from write_side.application import Saved
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.devices import Device
from write_side.errors import InvalidInput

CommandT = TypeVar("CommandT")

DEVICE_TOPIC = "device"


async def register_device(
    system: FleetSystem, caller: Principal, shape: DeviceCreate
) -> DeviceStatus:
    command = build_command(RegisterDevice, shape.model_dump())
    return await run_device_command(system, caller, system.device_service.register, command)


async def update_device(
    system: FleetSystem, caller: Principal, device_id: UUID, shape: DeviceUpdate
) -> DeviceStatus:
    command = build_command(UpdateDevice, shape.model_dump() | {"device_id": device_id})
    return await run_device_command(system, caller, system.device_service.update, command)


async def decommission_device(
    system: FleetSystem, caller: Principal, device_id: UUID, shape: DeviceDecommission
) -> DeviceStatus:
    command = build_command(DecommissionDevice, shape.model_dump() | {"device_id": device_id})
    return await run_device_command(system, caller, system.device_service.decommission, command)


async def run_device_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[CommandT, EventMetadata], Saved[Device]],
    command: CommandT,
) -> DeviceStatus:
    """The device command through the one command path (`api.command_path`): the read
    model's row once it holds the change, else the device as saved."""
    return await run_command(
        system,
        caller,
        handle,
        command,
        read=system.devices.get,
        fallback=_status_of_saved,
        fresh=_same_version,  # the row of exactly this change, as devices always answered
    )


def _status_of_saved(saved: Saved[Device], row: DeviceStatus | None) -> DeviceStatus:
    return status_of(saved.aggregate, saved.position)


def _same_version(row: DeviceStatus, device: Device) -> bool:
    return row.version == device.version


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
    `projections.device_status.status_to_json`), rebuilt by the row's own field list and types
    (`read_side.device_status.columns.JsonCodec`), so a field added to `DeviceStatus` needs no
    edit here. A field missing or null in the notice keeps the row's default."""
    return STATUS_JSON.from_json(data)
