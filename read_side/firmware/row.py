"""The firmware model's rows: one per release (`FirmwareRow`) and one per tenant for its
signing keys and whether it requires signed firmware (`SigningKeysRow`).

Their fields are the stored columns on both stores (derived from the dataclasses by
`read_side.columns`); the device types, hardware revisions and keys as JSON text. Times are the
events' own times. `sort_key` is the SemVer precedence as text (`write_side.semver`), by which
releases are listed and the latest of a type is found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from write_side.firmware_states import FirmwareStatus

__all__ = ["FirmwareRow", "FirmwareStatus", "SigningKeyRow", "SigningKeysRow"]


@dataclass(frozen=True)
class FirmwareRow:
    tenant_id: str
    firmware_id: UUID
    firmware_version: str  # as uploaded (build metadata kept)
    sort_key: str  # SemVer precedence as text: `parse_semver(firmware_version).sort_key`
    device_types: tuple[str, ...]
    hardware_revisions: tuple[str, ...] | None
    filename: str
    size_bytes: int
    sha256: str
    object_key: str
    signature: str | None  # base64
    key_id: str | None
    release_notes: str | None
    status: FirmwareStatus
    uploaded_at: datetime  # `UploadRequested`
    expires_at: datetime | None  # an unconfirmed upload's deadline (AWS path)
    verified_at: datetime | None  # `Published`
    rejection_reason: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdraw_reason: str | None
    version: int  # the release stream's version absorbed (the row's guard; expectedVersion)
    updated_at: datetime


@dataclass(frozen=True)
class SigningKeyRow:
    key_id: str  # first 16 hex digits of the SHA-256 of the raw key
    public_key: str  # base64 of the raw 32 bytes
    label: str
    registered_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


@dataclass(frozen=True)
class SigningKeysRow:
    tenant_id: str
    required: bool  # releases must be signed
    keys: tuple[SigningKeyRow, ...]  # in registration order, revoked ones kept
    version: int  # the tenant's `SigningKeys` stream version absorbed (the row's guard)
    updated_at: datetime
