"""GraphQL output types of the device slice, built from `DeviceStatus`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.devices import device_status_from_notice_data
from read_side.device_status import DeviceStatus, Page, encode_cursor
from read_side.notifications import ChangeNotice


@strawberry.enum
class DeviceLifecycle(Enum):
    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


@strawberry.type
class Device:
    id: strawberry.ID
    name: str
    device_type: str
    tags: list[str]
    metadata: JSON
    lifecycle: DeviceLifecycle
    version: int
    registered_at: datetime
    updated_at: datetime
    decommissioned_at: datetime | None
    decommission_reason: str | None

    @classmethod
    def from_status(cls, status: DeviceStatus) -> Device:
        return cls(
            id=strawberry.ID(str(status.device_id)),
            name=status.name,
            device_type=status.device_type,
            tags=list(status.tags),
            metadata=JSON(status.metadata),
            lifecycle=DeviceLifecycle(status.lifecycle),
            version=status.version,
            registered_at=status.registered_at,
            updated_at=status.updated_at,
            decommissioned_at=status.decommissioned_at,
            decommission_reason=status.decommission_reason,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class DeviceEdge:
    cursor: str
    node: Device


@strawberry.type
class DeviceConnection:
    edges: list[DeviceEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Page[DeviceStatus]) -> DeviceConnection:
        edges = [
            DeviceEdge(cursor=encode_cursor(item.device_id), node=Device.from_status(item))
            for item in page.items
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type
class DeviceChange:
    device: Device
    event_type: str
    position: int

    @classmethod
    def from_notice(cls, notice: ChangeNotice) -> DeviceChange:
        return cls(
            device=Device.from_status(device_status_from_notice_data(notice.data)),
            event_type=notice.event_type,
            position=notice.position,
        )
