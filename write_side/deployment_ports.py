from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class FirmwareRelease:
    id: UUID
    tenant_id: str
    version: str
    device_types: tuple[str, ...]
    hardware_revisions: tuple[str, ...]
    status: str  # "AVAILABLE" | "WITHDRAWN" | ...
    sha256: str
    size_bytes: int
    signature: str | None
    key_id: str | None


class FirmwareReleases(Protocol):
    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRelease | None: ...
