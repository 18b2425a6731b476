"""Device credentials over the API: issue (or rotate) a device's token, shown once.

Shared by GraphQL `issueDeviceCredential` and REST `POST /devices/{deviceId}/credentials`, and
so is the answer's one definition, `DeviceCredentialPublic` (REST's response model; GraphQL's
`DeviceCredential` is derived from it).
"""

from __future__ import annotations

from functools import partial
from uuid import UUID

from anyio import to_thread

from api.auth import Principal
from api.device_view import View
from api.ports import FleetSystem
from write_side.credentials import IssueDeviceCredential


class DeviceCredentialPublic(View):
    device_id: UUID
    credential_id: str
    token: str  # the only time it is ever shown


def _issue(system: FleetSystem, caller: Principal, device_id: UUID) -> DeviceCredentialPublic:
    issued = system.device_service.issue_credential(
        IssueDeviceCredential(device_id=device_id), caller.metadata()
    )
    system.wait_for(issued.saved.position)
    device = issued.saved.aggregate
    assert device.credential_id is not None
    return DeviceCredentialPublic(
        device_id=device.id, credential_id=device.credential_id, token=issued.token
    )


async def issue_credential(
    system: FleetSystem, caller: Principal, device_id: UUID
) -> DeviceCredentialPublic:
    return await to_thread.run_sync(partial(_issue, system, caller, device_id))
