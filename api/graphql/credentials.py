"""GraphQL `issueDeviceCredential`: a new device token (rotates the old one), shown once.
`DeviceCredential` is derived from `api.credentials.DeviceCredentialPublic`."""

from __future__ import annotations

import strawberry

from api.auth import Permission
from api.credentials import DeviceCredentialPublic, issue_credential
from api.devices import parse_device_id
from api.graphql.context import Info
from api.graphql.derive import derived_type


@derived_type(DeviceCredentialPublic, name="DeviceCredential")
class DeviceCredential:
    view: strawberry.Private[DeviceCredentialPublic]


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
        device = parse_device_id(input.id)
        issued = await issue_credential(info.context.system, caller, device)
        return DeviceCredential(view=issued)
