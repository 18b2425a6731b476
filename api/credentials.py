"""Device credentials over the API: issue (or rotate) a device's token, shown once.

Shared by GraphQL `issueDeviceCredential` and REST `POST /devices/{deviceId}/credentials`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from uuid import UUID

from anyio import to_thread

from api.auth import Principal
from api.ports import FleetSystem
from write_side.credentials import IssueDeviceCredential


@dataclass(frozen=True)
class IssuedToken:
    device_id: UUID
    credential_id: str
    token: str  # the only time it is ever shown


def _issue(system: FleetSystem, caller: Principal, device_id: UUID) -> IssuedToken:
    issued = system.device_service.issue_credential(
        IssueDeviceCredential(device_id=device_id), caller.metadata()
    )
    system.wait_for(issued.saved.position)
    device = issued.saved.aggregate
    assert device.credential_id is not None
    return IssuedToken(device.id, device.credential_id, issued.token)


async def issue_credential(system: FleetSystem, caller: Principal, device_id: UUID) -> IssuedToken:
    return await to_thread.run_sync(partial(_issue, system, caller, device_id))
