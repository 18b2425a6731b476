"""The devices slice's command handlers: register, update and decommission a device, issue and
revoke its credential; and what ingestion needs to authenticate a device.

The handler style of every slice (docs/write-side.md, section 3.1): a class over the shared
`FleetApplication`, one method per command, `verb(command, meta) -> Saved[A]`: load (checking
the tenant) or create, check the expected version, decide (an aggregate method), `commit`.
Device commands are not retried on a lost race: the caller decides again.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved, check_version
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.credentials import (
    DeviceAccess,
    IssueDeviceCredential,
    RevokeDeviceCredential,
    new_credential,
    own_heartbeat_timeout,
)
from write_side.devices import Device


@dataclass(frozen=True)
class IssuedCredential:
    """The device as saved with its new credential, and the token: shown once, never stored."""

    saved: Saved[Device]
    token: str


class DeviceService:
    def __init__(self, app: FleetApplication) -> None:
        self.app = app

    def register(self, command: RegisterDevice, meta: EventMetadata) -> Saved[Device]:
        device = Device(
            tenant_id=meta.tenant_id,
            name=command.name,
            device_type=command.device_type,
            tags=list(command.tags),
            metadata=dict(command.metadata),
        )
        return self.app.commit(device, meta)

    def update(self, command: UpdateDevice, meta: EventMetadata) -> Saved[Device]:
        """Saved(device, 0) when nothing changes (nothing recorded)."""
        device = self.app.load(Device, meta.tenant_id, command.device_id)
        check_version(device, command.expected_version)
        device.update(
            name=command.name,
            device_type=command.device_type,
            tags=None if command.tags is None else list(command.tags),
            metadata=None if command.metadata is None else dict(command.metadata),
        )
        return self.app.commit(device, meta)

    def decommission(self, command: DecommissionDevice, meta: EventMetadata) -> Saved[Device]:
        device = self.app.load(Device, meta.tenant_id, command.device_id)
        check_version(device, command.expected_version)
        device.decommission(command.reason)
        return self.app.commit(device, meta)

    def issue_credential(
        self, command: IssueDeviceCredential, meta: EventMetadata
    ) -> IssuedCredential:
        device = self.app.load(Device, meta.tenant_id, command.device_id)
        credential = new_credential(device.id)
        device.issue_credential(credential.credential_id, credential.credential_hash)
        return IssuedCredential(self.app.commit(device, meta), credential.token)

    def revoke_credential(
        self, command: RevokeDeviceCredential, meta: EventMetadata
    ) -> Saved[Device]:
        device = self.app.load(Device, meta.tenant_id, command.device_id)
        device.revoke_credential(command.reason)
        return self.app.commit(device, meta)

    def get(self, tenant_id: str, device_id: UUID, version: int | None = None) -> Device:
        """The device as of `version` (latest by default); another tenant's device is not found."""
        return self.app.load(Device, tenant_id, device_id, version)

    def access(self, device_id: UUID) -> DeviceAccess | None:
        """What ingestion needs to authenticate the device (any tenant: the credential or the
        certificate says which); None when no such device exists."""
        device = self.app.find(Device, None, device_id)
        if device is None:
            return None
        return DeviceAccess(
            device_id=device.id,
            tenant_id=device.tenant_id,
            decommissioned=device.is_decommissioned,
            credential_id=device.credential_id,
            credential_hash=device.credential_hash,
            heartbeat_timeout_s=own_heartbeat_timeout(device.metadata),
        )
