"""REST devices: register, list, show, update, decommission (DELETE). Thin: a request model
in, a command or a query out, a response model back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Response

from api.command_path import build_command
from api.device_view import DeviceLifecycle, DevicePublic
from api.devices import run_device_command
from api.rest.deps import Operator, Reader, SystemDep
from api.rest.errors import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from api.rest.models import DeviceCreate, DevicesPage, DeviceUpdate
from api.rest.versions import expected_version
from read_side.device_status import MAX_PAGE_SIZE, DeviceFilter, DeviceStatus
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.errors import NotFound

router = APIRouter(prefix="/devices", tags=["devices"], responses=ERROR_RESPONSES)

DeviceId = Annotated[UUID, Path(alias="deviceId", description="The device's id (a UUID).")]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The version the change expects, e.g. `"3"` (ETag).'),
]


@router.post("", status_code=201, summary="Register a device")
async def register_device(
    body: DeviceCreate, caller: Operator, system: SystemDep, response: Response
) -> DevicePublic:
    command = build_command(RegisterDevice, body.model_dump())
    status = await run_device_command(system, caller, system.device_service.register, command)
    response.headers["Location"] = f"/devices/{status.device_id}"
    return _public(status, response)


@router.get("", summary="List devices (a page, ordered by id)")
def list_devices(
    *,
    caller: Reader,
    system: SystemDep,
    lifecycle: DeviceLifecycle | None = None,
    device_type: Annotated[str | None, Query(alias="deviceType")] = None,
    tag: str | None = None,
    name_contains: Annotated[str | None, Query(alias="nameContains")] = None,
    first: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    after: Annotated[str | None, Query(description="`nextCursor` of the previous page.")] = None,
) -> DevicesPage:
    criteria = DeviceFilter(
        None if lifecycle is None else lifecycle.value, device_type, tag, name_contains
    )
    return DevicesPage.from_page(system.devices.list(caller.tenant_id, criteria, first, after))


@router.get("/{deviceId}", summary="Show a device", responses=NOT_FOUND)
def get_device(
    device_id: DeviceId, caller: Reader, system: SystemDep, response: Response
) -> DevicePublic:
    status = system.devices.get(caller.tenant_id, device_id)
    if status is None:
        raise NotFound(f"device {device_id} not found")
    return _public(status, response)


@router.put(
    "/{deviceId}", summary="Update a device (fields sent only)", responses=NOT_FOUND | CONFLICT
)
async def update_device(
    *,
    device_id: DeviceId,
    body: DeviceUpdate,
    caller: Operator,
    system: SystemDep,
    response: Response,
    if_match: IfMatch = None,
) -> DevicePublic:
    fields = body.model_dump(exclude={"expected_version"})
    expected = _expected_version(body.expected_version, if_match)
    command = build_command(
        UpdateDevice, {**fields, "device_id": device_id, "expected_version": expected}
    )
    status = await run_device_command(system, caller, system.device_service.update, command)
    return _public(status, response)


@router.delete("/{deviceId}", summary="Decommission a device", responses=NOT_FOUND | CONFLICT)
async def decommission_device(
    *,
    device_id: DeviceId,
    caller: Operator,
    system: SystemDep,
    response: Response,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    expected_version: Annotated[int | None, Query(alias="expectedVersion", ge=1)] = None,
    if_match: IfMatch = None,
) -> DevicePublic:
    command = build_command(
        DecommissionDevice,
        {
            "device_id": device_id,
            "expected_version": _expected_version(expected_version, if_match),
            "reason": reason,
        },
    )
    status = await run_device_command(system, caller, system.device_service.decommission, command)
    return _public(status, response)


def _public(status: DeviceStatus, response: Response) -> DevicePublic:
    response.headers["ETag"] = f'"{status.version}"'
    return DevicePublic.from_status(status)


def _expected_version(given: int | None, if_match: str | None) -> int | None:
    return expected_version(given, if_match, "a device")
