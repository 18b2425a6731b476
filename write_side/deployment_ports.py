"""What the deployment service needs from other slices, as ports (Protocols) over plain views,
so it depends on no other service's class. `FirmwareService` satisfies `FirmwareReleases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from write_side.firmware_states import FirmwareStatus


@dataclass(frozen=True)
class FirmwareRelease:
    """A firmware release as a deployment sees it (a new deployment needs status AVAILABLE and
    devices of one of `device_types`)."""

    id: UUID
    tenant_id: str
    version: str
    device_types: tuple[str, ...]
    hardware_revisions: tuple[str, ...] | None
    status: FirmwareStatus
    sha256: str
    size_bytes: int
    signature: str | None
    key_id: str | None


class FirmwareReleases(Protocol):
    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRelease | None:
        """The tenant's release; None when there is none (or it is another tenant's)."""
        ...
