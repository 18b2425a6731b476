"""Commands of the firmware slice (docs/firmware.md section 12.1): publish a release (the
embedded upload, whose image the caller has stored and verified), request, confirm or reject an
upload (the AWS path), withdraw a release, and manage the tenant's signing keys.

Bad input is a pydantic validation error naming the field (the API spells it in camelCase:
`deviceTypes`, `keyId`); the domain's own checks raise `InvalidInput` naming it as well.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from write_side.commands import Command, DeviceType
from write_side.errors import InvalidInput
from write_side.firmware import MAX_DEVICE_TYPES, RejectionReason
from write_side.firmware_keys import MAX_LABEL
from write_side.firmware_signing import MAX_PUBLIC_KEY_CHARS
from write_side.semver import parse_semver

MAX_RELEASE_NOTES = 10_000
MAX_HARDWARE_REVISIONS = 32
MAX_REASON = 500


def _semver(value: str) -> str:
    try:
        parse_semver(value)
    except InvalidInput as e:
        raise ValueError(e.message) from e
    return value


def _unique(value: list[str] | None) -> list[str] | None:
    return None if value is None else list(dict.fromkeys(value))


FirmwareVersionText = Annotated[str, AfterValidator(_semver)]
Sha256 = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[0-9a-fA-F]{64}$")
]
HardwareRevision = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]
KeyId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9a-f]{16}$")]
Reason = Annotated[str, StringConstraints(max_length=MAX_REASON)]
Version = Annotated[int, Field(ge=1)]


class _Release(Command):
    """What a release declares; the signature (if any) covers sha256, size, version and types."""

    version: FirmwareVersionText
    device_types: Annotated[list[DeviceType], Field(min_length=1, max_length=MAX_DEVICE_TYPES)]
    hardware_revisions: (
        Annotated[list[HardwareRevision], Field(max_length=MAX_HARDWARE_REVISIONS)] | None
    ) = None
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    size_bytes: Annotated[int, Field(gt=0)]
    sha256: Sha256
    signature: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    key_id: KeyId | None = None
    release_notes: Annotated[str, StringConstraints(max_length=MAX_RELEASE_NOTES)] | None = None

    _device_types = field_validator("device_types")(_unique)
    _hardware_revisions = field_validator("hardware_revisions")(_unique)


class PublishFirmware(_Release):
    """The embedded upload: the image is stored and its SHA-256 and size computed by the caller;
    `UploadRequested` and `Published` are recorded together, with the version markers."""


class RequestFirmwareUpload(_Release):
    """The AWS path's first step: the release awaits its image (a presigned PUT)."""


class ConfirmFirmwareUpload(Command):
    """The stored object's size and SHA-256 (HeadObject): published when they are the ones
    requested, else rejected (`checksum_mismatch`, `size_mismatch`)."""

    firmware_id: UUID
    size_bytes: Annotated[int, Field(ge=0)]
    sha256: Sha256


class ExpireFirmwareUpload(Command):
    """The upload's deadline passed unconfirmed (the sweeper's timer): rejected as `expired`."""

    firmware_id: UUID


class RejectFirmwareUpload(Command):
    firmware_id: UUID
    reason: RejectionReason


class WithdrawFirmware(Command):
    firmware_id: UUID
    expected_version: Version | None = None
    reason: Reason | None = None


class RegisterSigningKey(Command):
    """An ed25519 public key: base64 of its 32 raw bytes, or PEM."""

    public_key: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PUBLIC_KEY_CHARS)]
    label: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL)
    ]


class RevokeSigningKey(Command):
    key_id: KeyId
    reason: Reason | None = None


class RequireSignedFirmware(Command):
    required: bool
