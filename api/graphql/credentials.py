"""GraphQL `issueDeviceCredential`: a new device token (rotates the old one), shown once."""

from __future__ import annotations

import strawberry

from api.auth import Permission
from api.credentials import issue_credential
from api.devices import parse_device_id
from api.graphql.context import Info


@strawberry.type
class DeviceCredential:
    device_id: strawberry.ID
    credential_id: str
    token: str


@strawberry.input
class IssueDeviceCredentialInput:
    id: strawberry.ID


@strawberry.type
class CredentialMutation:
    @strawberry.mutation
    async def issue_device_credential(
        self, info: Info, input: IssueDeviceCredentialInput
    ) -> DeviceCredential:
        """Issue (or rotate) the device's credential; the token is never shown again."""
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        issued = await issue_credential(info.context.system, caller, parse_device_id(input.id))
        return DeviceCredential(
            device_id=strawberry.ID(str(issued.device_id)),
            credential_id=issued.credential_id,
            token=issued.token,
        )
