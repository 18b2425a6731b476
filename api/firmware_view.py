"""A firmware release, a signing key and fleet compliance as both API adapters show them:
declared once, here (issue 11, item 1), as `api.device_view` declares the device; the
deployment and its executions are in `api.deployment_view`.

`FirmwarePublic`, `SigningKeyPublic` and `CompliancePublic` are the REST response models and
the GraphQL `Firmware`, `SigningKey`, `VersionCount` and `Compliance` types are derived from
them (`api.graphql.derive`). The state enums are plain `Enum`s made from the write side's
(`write_side.firmware_states`, `write_side.deployment_states`), member for member, so the
values are listed once, there; GraphQL registers these classes (never the domain's) as its
enums. `sizeBytes` is a `Long`: an image may outgrow GraphQL's 32-bit `Int`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import Field

from api.device_view import View
from api.graphql.scalars import Long
from read_side.deployments.row import ComplianceRow
from read_side.firmware.row import FirmwareRow, SigningKeyRow
from write_side import deployment_states, firmware_states

__all__ = [
    "CompliancePublic",
    "DeploymentStatus",
    "ExecutionState",
    "FirmwarePublic",
    "FirmwareStatus",
    "SignatureRequirementPublic",
    "SigningKeyPublic",
    "VersionCountPublic",
    "mirrored",
]


def mirrored(domain: type[StrEnum]) -> Any:
    """A plain `Enum` of the same name with the domain enum's members, in its order."""
    return Enum(domain.__name__, [(member.name, member.value) for member in domain])


if TYPE_CHECKING:  # mypy cannot follow members made at run time: it sees the domain's (equal)
    from write_side.deployment_states import DeploymentStatus, ExecutionState
    from write_side.firmware_states import FirmwareStatus
else:
    FirmwareStatus = mirrored(firmware_states.FirmwareStatus)
    DeploymentStatus = mirrored(deployment_states.DeploymentStatus)
    ExecutionState = mirrored(deployment_states.ExecutionState)


class FirmwarePublic(View):
    id: UUID
    firmware_version: str = Field(description="The release's SemVer, as uploaded.")
    device_types: list[str] = Field(description="The device types it installs on.")
    hardware_revisions: list[str] | None = Field(
        description="The hardware revisions it installs on; null means every revision."
    )
    filename: str
    size_bytes: Long
    sha256: str = Field(description="SHA-256 of the image, hex.")
    key_id: str | None = Field(description="The signing key's id; null for an unsigned image.")
    status: FirmwareStatus
    release_notes: str | None
    uploaded_at: datetime
    withdrawn_at: datetime | None
    rejection_reason: str | None
    version: int = Field(description="The release's version, for expectedVersion.")

    @classmethod
    def from_row(cls, row: FirmwareRow) -> FirmwarePublic:
        """The release as shown, from a read-model row (or one built from the aggregate a
        command saved): the one place a release row becomes output."""
        same = {name: getattr(row, name) for name in cls.model_fields if hasattr(row, name)}
        shown = {
            "id": row.firmware_id,
            "device_types": list(row.device_types),
            "hardware_revisions": None
            if row.hardware_revisions is None
            else list(row.hardware_revisions),
            "status": FirmwareStatus(row.status.value),
        }
        return cls.model_validate(same | shown)


class SigningKeyPublic(View):
    key_id: str = Field(description="First 16 hex digits of the SHA-256 of the raw key.")
    label: str
    registered_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: SigningKeyRow) -> SigningKeyPublic:
        return cls.model_validate(
            {name: getattr(row, name) for name in cls.model_fields if hasattr(row, name)}
        )


class SignatureRequirementPublic(View):
    required: bool = Field(description="Whether every new release must be signed.")
    version: int = Field(description="The tenant's signing keys' version.")


class VersionCountPublic(View):
    firmware_version: str = Field(
        description="A reported version; empty for devices that have reported none."
    )
    devices: int


class CompliancePublic(View):
    device_type: str
    devices: int = Field(description="The tenant's devices of this type.")
    latest: FirmwarePublic | None = Field(
        description="The AVAILABLE release of the type with the highest precedence."
    )
    versions: list[VersionCountPublic]
    behind: int = Field(description="Devices whose reported version precedes the latest.")
    failed: int = Field(description="Devices whose last execution ended in a final failure.")

    @classmethod
    def from_row(cls, row: ComplianceRow, latest: FirmwareRow | None) -> CompliancePublic:
        """One device type's compliance, with its latest release's row (if any)."""
        return cls(
            device_type=row.device_type,
            devices=row.devices,
            latest=None if latest is None else FirmwarePublic.from_row(latest),
            versions=[
                VersionCountPublic(firmware_version=version, devices=devices)
                for version, devices in sorted(row.versions.items())
            ],
            behind=row.behind,
            failed=row.failed,
        )
