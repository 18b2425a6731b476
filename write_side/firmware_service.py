"""The firmware slice's command handlers (docs/firmware.md section 12.1): releases and the
tenant's signing keys; and `get`, the `FirmwareReleases` port the deployment service reads.

The handler style of every slice (docs/write-side.md, section 3.1): load (tenant-checked) or
create, check the expected version, decide (an aggregate method), `commit`.

- A release is verified against the tenant's signing keys before anything is recorded
  (`SigningKeys.check`: unsigned where required, unknown or revoked key, a signature that does
  not verify: `InvalidInput` naming `signature` or `keyId`).
- Publishing saves the release and its `FirmwareVersion` markers (one per device type) in ONE
  `insert_events` (`FleetApplication.commit(firmware, meta, *markers)`): a version already
  published for one of the types is refused by the store itself, answered as
  `FirmwareVersionTaken` (FIRMWARE_VERSION_TAKEN) and never retried. Markers are claimed at
  publication only, so a rejected upload never holds a version.
- Release commands are not retried on a lost race; signing-key commands are safe to re-decide
  and are (`application.retried`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved, check_version, retried
from write_side.deployment_errors import FirmwareVersionTaken
from write_side.deployment_ports import FirmwareRelease
from write_side.errors import ConcurrencyConflict
from write_side.firmware import (
    UPLOAD_GRACE,
    Firmware,
    FirmwareVersion,
    claims,
    firmware_version_id,
)
from write_side.firmware_commands import (
    ConfirmFirmwareUpload,
    ExpireFirmwareUpload,
    PublishFirmware,
    RegisterSigningKey,
    RejectFirmwareUpload,
    RequestFirmwareUpload,
    RequireSignedFirmware,
    RevokeSigningKey,
    WithdrawFirmware,
)
from write_side.firmware_keys import SigningKeys, signing_keys_id
from write_side.firmware_signing import key_id_of, parse_public_key, signed_message

UPLOAD_EXPIRY = timedelta(hours=1)  # a requested upload not confirmed by then is rejected


@dataclass(frozen=True)
class RegisteredKey:
    saved: Saved[SigningKeys]
    key_id: str


class FirmwareService:
    def __init__(
        self,
        app: FleetApplication,
        clock: Callable[[], datetime] | None = None,
        upload_expiry: timedelta = UPLOAD_EXPIRY,
        upload_grace: timedelta = UPLOAD_GRACE,
    ) -> None:
        self.app = app
        self.clock = clock or (lambda: datetime.now(UTC))
        self.upload_expiry, self.upload_grace = upload_expiry, upload_grace

    # Releases -----------------------------------------------------------------------------------

    def publish(self, command: PublishFirmware, meta: EventMetadata) -> Saved[Firmware]:
        """The embedded upload: requested and published in one commit, with its markers."""
        firmware = self._requested(command, meta.tenant_id, expires_at=None)
        firmware.publish(command.size_bytes, command.sha256, self.clock())
        return self._commit_publication(firmware, meta)

    def request_upload(
        self, command: RequestFirmwareUpload, meta: EventMetadata
    ) -> Saved[Firmware]:
        """The AWS path: the release awaits its image until `upload_expiry` from now. No
        version is claimed yet (see `confirm_upload`)."""
        expires_at = self.clock() + self.upload_expiry
        firmware = self._requested(command, meta.tenant_id, expires_at=expires_at)
        return self.app.commit(firmware, meta)

    def confirm_upload(
        self, command: ConfirmFirmwareUpload, meta: EventMetadata
    ) -> Saved[Firmware]:
        """The stored object is there: published with its markers when its size and SHA-256
        are the requested ones, else rejected (`checksum_mismatch`, `size_mismatch`)."""
        firmware = self.app.load(Firmware, meta.tenant_id, command.firmware_id)
        self.require_confirmable(firmware)
        reason = firmware.mismatch(command.size_bytes, command.sha256)
        if reason is not None:
            firmware.reject(reason)
            return self.app.commit(firmware, meta)
        firmware.publish(command.size_bytes, command.sha256, self.clock())
        return self._commit_publication(firmware, meta)

    def require_confirmable(self, firmware: Firmware) -> None:
        """`UploadExpired` past the upload's deadline; `InvalidTransition` if not pending."""
        firmware.require_confirmable(self.clock(), self.upload_grace)

    def expire_upload(self, command: ExpireFirmwareUpload, meta: EventMetadata) -> Saved[Firmware]:
        """An upload past its deadline is rejected as `expired`; Saved(firmware, 0) when it
        was expired already. A lost race (a confirmation committed meanwhile) is re-decided
        on the reloaded release, which then refuses (`InvalidTransition`)."""

        def attempt() -> Saved[Firmware]:
            firmware = self.app.load(Firmware, meta.tenant_id, command.firmware_id)
            if not firmware.expire(self.clock(), self.upload_grace):
                return Saved(firmware, 0)
            return self.app.commit(firmware, meta)

        return retried(attempt, retry=True)

    def reject_upload(self, command: RejectFirmwareUpload, meta: EventMetadata) -> Saved[Firmware]:
        firmware = self.app.load(Firmware, meta.tenant_id, command.firmware_id)
        firmware.reject(command.reason)
        return self.app.commit(firmware, meta)

    def withdraw(self, command: WithdrawFirmware, meta: EventMetadata) -> Saved[Firmware]:
        """Saved(firmware, 0) when it is withdrawn already (nothing recorded)."""
        firmware = self.app.load(Firmware, meta.tenant_id, command.firmware_id)
        check_version(firmware, command.expected_version)
        firmware.withdraw(command.reason, meta.actor)
        return self.app.commit(firmware, meta)

    def load(self, tenant_id: str, firmware_id: UUID, version: int | None = None) -> Firmware:
        """The release as of `version` (latest by default); another tenant's is not found."""
        return self.app.load(Firmware, tenant_id, firmware_id, version)

    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRelease | None:
        """The `FirmwareReleases` port: the tenant's release, None when there is none."""
        firmware = self.app.find(Firmware, tenant_id, firmware_id)
        return None if firmware is None else release_of(firmware)

    def _requested(
        self,
        command: PublishFirmware | RequestFirmwareUpload,
        tenant_id: str,
        expires_at: datetime | None,
    ) -> Firmware:
        keys = self.signing_keys(tenant_id) or SigningKeys.open(tenant_id)  # (never saved here)
        message = signed_message(
            command.sha256, command.size_bytes, command.version, command.device_types
        )
        keys.check(message, command.signature, command.key_id)
        return Firmware.request_upload(
            tenant_id=tenant_id,
            version=command.version,
            device_types=command.device_types,
            hardware_revisions=command.hardware_revisions,
            filename=command.filename,
            size_bytes=command.size_bytes,
            sha256=command.sha256,
            signature=command.signature,
            key_id=command.key_id,
            release_notes=command.release_notes,
            expires_at=expires_at,
        )

    def _commit_publication(self, firmware: Firmware, meta: EventMetadata) -> Saved[Firmware]:
        self._refuse_taken(firmware)  # the usual case, answered without a write
        try:
            return self.app.commit(firmware, meta, *claims(firmware))
        except ConcurrencyConflict:
            self._refuse_taken(firmware)  # a marker was claimed meanwhile: say which
            raise  # the release's own stream moved (a concurrent confirm)

    def _refuse_taken(self, firmware: Firmware) -> None:
        for device_type in firmware.device_types:
            marker_id = firmware_version_id(
                firmware.tenant_id, device_type, firmware.firmware_version
            )
            marker = self.app.find(FirmwareVersion, firmware.tenant_id, marker_id)
            if marker is not None and marker.firmware_id != firmware.id:
                raise FirmwareVersionTaken(
                    f"version {marker.firmware_version} is published for device type "
                    f"{device_type} already (firmware {marker.firmware_id})",
                    device_type=device_type,
                    version=firmware.firmware_version,
                )

    # Signing keys -------------------------------------------------------------------------------

    def signing_keys(self, tenant_id: str) -> SigningKeys | None:
        """The tenant's keys and requirement; None before its first key or setting."""
        return self.app.find(SigningKeys, tenant_id, signing_keys_id(tenant_id))

    def register_key(self, command: RegisterSigningKey, meta: EventMetadata) -> RegisteredKey:
        """Registering a key that is registered already records nothing."""
        public_key = parse_public_key(command.public_key)
        saved = self._change_keys(meta, lambda keys: keys.register(public_key, command.label))
        return RegisteredKey(saved, key_id_of(public_key))

    def revoke_key(self, command: RevokeSigningKey, meta: EventMetadata) -> Saved[SigningKeys]:
        """An unknown key is `NotFound`; revoking a revoked key records nothing."""
        return self._change_keys(meta, lambda keys: keys.revoke(command.key_id, command.reason))

    def require_signed(
        self, command: RequireSignedFirmware, meta: EventMetadata
    ) -> Saved[SigningKeys]:
        return self._change_keys(meta, lambda keys: keys.require_signed(command.required))

    def _change_keys(
        self, meta: EventMetadata, change: Callable[[SigningKeys], object]
    ) -> Saved[SigningKeys]:
        """Load the tenant's keys (or open the stream), decide, commit; retried on a lost race.
        A stream that would hold only its `Opened` event is not started."""

        def attempt() -> Saved[SigningKeys]:
            existing = self.signing_keys(meta.tenant_id)
            keys = existing or SigningKeys.open(meta.tenant_id)
            change(keys)
            if existing is None and len(keys.pending_events) == 1:
                return Saved(keys, 0)  # nothing changed
            return self.app.commit(keys, meta)

        return retried(attempt, retry=True)


def release_of(firmware: Firmware) -> FirmwareRelease:
    return FirmwareRelease(
        id=firmware.id,
        tenant_id=firmware.tenant_id,
        version=firmware.firmware_version,
        device_types=tuple(firmware.device_types),
        hardware_revisions=(
            None if firmware.hardware_revisions is None else tuple(firmware.hardware_revisions)
        ),
        status=firmware.status,
        sha256=firmware.sha256,
        size_bytes=firmware.size_bytes,
        signature=firmware.signature,
        key_id=firmware.key_id,
    )
