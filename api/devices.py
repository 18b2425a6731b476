"""The device operations (`api.operations`): register, list, show, update and decommission a
device and issue its credential, each declared once for REST and GraphQL; the commands go
through the one command path (`api.command_path`), and `DeviceStatus` is what every answer is
built from (from the read model, from the aggregate a command saved, or from a change notice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry
from fastapi import Path

from api.auth import Permission, Principal
from api.command_path import build_command, run_command
from api.credentials import DeviceCredentialPublic, issue_credential
from api.device_view import (
    DeviceCreate,
    DeviceDecommission,
    DevicePublic,
    DeviceQuery,
    DeviceUpdate,
)
from api.operations import MUTATION, PAGE_ARGS, QUERY, Arg, Call, GraphQL, Operation, Paged, Rest
from api.operations import parse_id as id_parser
from api.ports import FleetSystem
from api.rest.errors import conflict, not_found
from api.rest.models import DevicesPage
from event_store.envelope import EventMetadata
from read_side.device_status import DeviceStatus, Page, encode_cursor
from read_side.device_status.columns import STATUS_JSON
from write_side.application import Saved
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.devices import Device

CommandT = TypeVar("CommandT")

DEVICE_TOPIC = "device"
parse_device_id = id_parser("a device id")
DEVICE_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="deviceId", description="The device's id (a UUID).")],
    strawberry.ID,
    parse=parse_device_id,
)


async def register_device(call: Call) -> DevicePublic:
    command = build_command(RegisterDevice, call.shape.model_dump())
    return await _device_command(call, call.system.device_service.register, command)


async def update_device(call: Call) -> DevicePublic:
    command = build_command(UpdateDevice, call.shape.model_dump() | {"device_id": call["id"]})
    return await _device_command(call, call.system.device_service.update, command)


async def decommission_device(call: Call) -> DevicePublic:
    fields = call.shape.model_dump() | {"device_id": call["id"]}
    command = build_command(DecommissionDevice, fields)
    return await _device_command(call, call.system.device_service.decommission, command)


async def get_device(call: Call) -> DevicePublic | None:
    status = await call.read(call.system.devices.get, call["id"])
    return None if status is None else DevicePublic.from_status(status)


async def list_devices(call: Call) -> Page[DeviceStatus]:
    return await call.page(call.system.devices.list, call.shape.criteria())


async def issue_device_credential(call: Call) -> DeviceCredentialPublic:
    return await issue_credential(call.system, call.caller, call["id"])


async def _device_command(
    call: Call, handle: Callable[[CommandT, EventMetadata], Saved[Device]], command: CommandT
) -> DevicePublic:
    status = await run_device_command(call.system, call.caller, handle, command)
    return DevicePublic.from_status(status)


WRITE, READ = Permission.WRITE_DEVICES, Permission.READ_DEVICES
NOT_FOUND = not_found("device")
CHANGED = NOT_FOUND | conflict("device", ", or is decommissioned (ALREADY_DECOMMISSIONED)")
OPERATIONS = (
    Operation(
        "get_device", READ, get_device, DevicePublic, args=(DEVICE_ID,),
        nullable=True, missing="device {id} not found",
        rest=Rest("GET", "/devices/{deviceId}", "Show a device", responses=NOT_FOUND),
        graphql=GraphQL("device", QUERY),
    ),
    Operation(
        "list_devices", READ, list_devices, DevicePublic, shape=DeviceQuery, args=PAGE_ARGS,
        paged=Paged(DevicePublic.from_status, lambda s: encode_cursor(s.device_id), DevicesPage),
        rest=Rest("GET", "/devices", "List devices (a page, ordered by id)", shape_in="query"),
        graphql=GraphQL("devices", QUERY, input="DeviceFilter"),
    ),
    Operation(
        "register_device", WRITE, register_device, DevicePublic, shape=DeviceCreate,
        rest=Rest(
            "POST", "/devices", "Register a device", status=201,
            location=lambda device: f"/devices/{device.id}",
        ),
        graphql=GraphQL("register_device", MUTATION, input="RegisterDeviceInput"),
    ),
    Operation(
        "update_device", WRITE, update_device, DevicePublic, shape=DeviceUpdate, args=(DEVICE_ID,),
        rest=Rest(
            "PUT", "/devices/{deviceId}", "Update a device (fields sent only)",
            if_match="a device", responses=CHANGED,
        ),
        graphql=GraphQL("update_device", MUTATION, input="UpdateDeviceInput"),
    ),
    Operation(
        "decommission_device", WRITE, decommission_device, DevicePublic,
        shape=DeviceDecommission, args=(DEVICE_ID,),
        rest=Rest(
            "DELETE", "/devices/{deviceId}", "Decommission a device", shape_in="query",
            if_match="a device", responses=CHANGED,
        ),
        graphql=GraphQL("decommission_device", MUTATION, input="DecommissionDeviceInput"),
    ),
    Operation(
        "issue_device_credential", WRITE, issue_device_credential, DeviceCredentialPublic,
        args=(DEVICE_ID,),
        rest=Rest(
            "POST", "/devices/{deviceId}/credentials",
            "Issue the device's credential (rotating any previous one); the token is shown once",
            status=201, etag=False, headers={"Cache-Control": "no-store"},
        ),
        graphql=GraphQL("issue_device_credential", MUTATION, input="IssueDeviceCredentialInput"),
    ),
)  # fmt: skip


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
