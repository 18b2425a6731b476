"""REST `POST /devices/{deviceId}/credentials`: a new device token (rotates the old one)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.credentials import DeviceCredentialPublic, issue_credential
from api.rest.deps import Operator, SystemDep
from api.rest.devices import DeviceId
from api.rest.errors import ERROR_RESPONSES

router = APIRouter(prefix="/devices", tags=["devices"], responses=ERROR_RESPONSES)


@router.post(
    "/{deviceId}/credentials",
    status_code=201,
    summary="Issue the device's credential (rotating any previous one); the token is shown once",
)
async def issue_device_credential(
    device_id: DeviceId, caller: Operator, system: SystemDep, response: Response
) -> DeviceCredentialPublic:
    response.headers["Cache-Control"] = "no-store"
    return await issue_credential(system, caller, device_id)
