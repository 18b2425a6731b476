"""The device-status model's ports (paging, shared by every model, is
`read_side.paging`): the queries the API asks (`DeviceStatusReader`, with its
filter, page and cursor) and the writes the projection commits through (`DeviceStatusView`).

Both ports live here, beside the adapters that implement both on one table each, so the code
that writes a table and the code that reads it are one package (issue 11)."""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.device_status.row import DeviceStatus, Lifecycle
from read_side.paging import Page
from write_side.errors import InvalidInput

__all__ = [
    "AlertLinks",
    "DeviceFilter",
    "DeviceStatusReader",
    "DeviceStatusView",
    "decode_cursor",
    "encode_cursor",
]

AlertLinks = Mapping[tuple[str, str], UUID | None]  # (tenant, alert id hex) -> device, or unlink


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

    @abstractmethod
    def online(self) -> Iterator[DeviceStatus]:
        """Every tenant's devices the model shows online, in no set order, read page by page
        (the offline sweep's candidates where no process follows the feed: the scheduled
        function, `fleetwatch.lambdas.scheduled_handler`). Reads the whole model."""


class DeviceStatusView(ABC):
    """Port for the projection's writes: the row and the checkpoint commit together."""

    def save(self, status: DeviceStatus, tracking: Tracking) -> None:
        """Upsert the row and record `tracking` atomically (a seen tracking id: AlreadyTracked)."""
        self.save_many([status], tracking)

    @abstractmethod
    def save_many(
        self,
        rows: Sequence[DeviceStatus],
        tracking: Tracking,
        alert_links: AlertLinks | None = None,
    ) -> None:
        """Upsert the rows and record `tracking` (with the last of them, when they need several
        transactions; row guards make a replay of a partly committed batch harmless).
        `alert_links` records (or, for None, forgets) which device an open alert belongs to."""

    @abstractmethod
    def alert_devices(self, tenant_id: str, alert_ids: Sequence[str]) -> dict[str, UUID]:
        """The devices of the given open alerts (hex ids), as linked by `save_many`."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""
