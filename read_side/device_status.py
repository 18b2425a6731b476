"""The device-status read model: what a frontend lists and shows for each device."""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar
from uuid import UUID

from write_side.errors import InvalidInput
from write_side.severity import severity_rank

Lifecycle = Literal["active", "decommissioned"]
T = TypeVar("T")

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class DeviceStatus:
    device_id: UUID
    tenant_id: str
    name: str
    device_type: str
    tags: tuple[str, ...]
    metadata: dict[str, str]
    lifecycle: Lifecycle
    version: int
    registered_at: datetime
    updated_at: datetime
    decommissioned_at: datetime | None = None
    decommission_reason: str | None = None
    position: int = 0  # feed position of the last event applied to this row
    # Issue 4: credentials and telemetry (all optional, so rows built before them stay valid).
    credential_id: str | None = None  # public id of the current device credential
    last_seen_at: datetime | None = None  # server time of the last batch received
    online: bool | None = None  # None until the device first reports
    last_values: dict[str, float] = field(default_factory=dict)  # newest by device time
    last_values_at: dict[str, datetime] = field(default_factory=dict)  # device time of each
    firmware_version: str | None = None
    battery: float | None = None
    rssi: float | None = None
    telemetry_version: int = 0  # guard: the device's Telemetry stream version applied
    # Issue 4: open alerts, alert id (hex) -> severity; an alert is open until resolved.
    open_alerts: dict[str, str] = field(default_factory=dict)

    @property
    def open_alert_count(self) -> int:
        return len(self.open_alerts)

    @property
    def highest_open_severity(self) -> str | None:
        """The most severe of the open alerts' severities (None when none is open)."""
        return max(self.open_alerts.values(), key=severity_rank, default=None)


@dataclass(frozen=True)
class DeviceFilter:
    lifecycle: Lifecycle | None = None
    device_type: str | None = None
    tag: str | None = None
    name_contains: str | None = None

    def matches(self, status: DeviceStatus) -> bool:
        return (
            (self.lifecycle is None or status.lifecycle == self.lifecycle)
            and (self.device_type is None or status.device_type == self.device_type)
            and (self.tag is None or self.tag in status.tags)
            and (
                self.name_contains is None
                or self.name_contains.casefold() in status.name.casefold()
            )
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None  # pass as `after` for the next page; None on the last page


def encode_cursor(device_id: UUID) -> str:
    return base64.urlsafe_b64encode(b"d:" + device_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> UUID:
    """The device id a cursor points after; a malformed cursor is invalid input on `after`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 18 or not raw.startswith(b"d:"):
        raise InvalidInput("malformed cursor", field="after")
    return UUID(bytes=raw[2:])


def check_page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE_SIZE}", field="first")
    return first


class DeviceStatusReader(ABC):
    """Port: queries over the device-status read model. Rows are ordered by device id."""

    @abstractmethod
    def get(self, tenant_id: str, device_id: UUID) -> DeviceStatus | None:
        """The device's status, or None (also when it belongs to another tenant)."""

    def get_many(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceStatus]:
        """The statuses of those of the devices that have a row in the tenant, by device id
        (the adapters read them in one query or batch; this default reads one at a time)."""
        found: dict[UUID, DeviceStatus] = {}
        for device_id in dict.fromkeys(device_ids):
            status = self.get(tenant_id, device_id)
            if status is not None:
                found[device_id] = status
        return found

    @abstractmethod
    def list(
        self, tenant_id: str, device_filter: DeviceFilter, first: int, after: str | None
    ) -> Page[DeviceStatus]:
        """Up to `first` devices of the tenant matching the filter, after the cursor."""
