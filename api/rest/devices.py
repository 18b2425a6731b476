"""REST devices: register, list, show, update, decommission (DELETE). Thin: the input shape in
(`api.device_view`, GraphQL's inputs are derived from the same), the shared use case
(`api.devices`) or a query, the device as shown back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Response

from api import devices
from api.device_view import (
    DeviceCreate,
    DeviceDecommission,
    DevicePublic,
    DeviceQuery,
    DeviceUpdate,
)
from api.rest.deps import Operator, Reader, SystemDep
from api.rest.errors import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from api.rest.models import DevicesPage
from api.rest.versions import expected_version
from read_side.device_status import MAX_PAGE_SIZE, DeviceStatus
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
    status = await devices.register_device(system, caller, body)
    response.headers["Location"] = f"/devices/{status.device_id}"
    return _public(status, response)


@router.get("", summary="List devices (a page, ordered by id)")
def list_devices(
    *,
    caller: Reader,
    system: SystemDep,
    query: Annotated[DeviceQuery, Query()],
    first: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    after: Annotated[str | None, Query(description="`nextCursor` of the previous page.")] = None,
) -> DevicesPage:
    page = system.devices.list(caller.tenant_id, query.criteria(), first, after)
    return DevicesPage.from_page(page)


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
    body.expected_version = _expected_version(body.expected_version, if_match)
    return _public(await devices.update_device(system, caller, device_id, body), response)


@router.delete("/{deviceId}", summary="Decommission a device", responses=NOT_FOUND | CONFLICT)
async def decommission_device(
    *,
    device_id: DeviceId,
    query: Annotated[DeviceDecommission, Query()],
    caller: Operator,
    system: SystemDep,
    response: Response,
    if_match: IfMatch = None,
) -> DevicePublic:
    query.expected_version = _expected_version(query.expected_version, if_match)
    return _public(await devices.decommission_device(system, caller, device_id, query), response)


def _public(status: DeviceStatus, response: Response) -> DevicePublic:
    response.headers["ETag"] = f'"{status.version}"'
    return DevicePublic.from_status(status)


def _expected_version(given: int | None, if_match: str | None) -> int | None:
    return expected_version(given, if_match, "a device")
