"""GraphQL output types of the device slice, built from `DeviceStatus`.

`Severity` and `MetricValue` are shared with the alert and telemetry slices (one definition per
GraphQL type name)."""

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


@strawberry.enum
class Connectivity(Enum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


@strawberry.enum
class Severity(Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@strawberry.type
class MetricValue:
    metric: str
    value: float
    at: datetime  # device time of the reading


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
    # Status fields (issue 4): from telemetry, connectivity and open alerts.
    connectivity: Connectivity
    online: bool | None = strawberry.field(
        description="Whether the device is online; null until it first reports."
    )
    last_seen_at: datetime | None = strawberry.field(
        description="Server time of the last telemetry received from the device."
    )
    firmware_version: str | None
    battery: float | None
    rssi: float | None
    credential_id: str | None = strawberry.field(
        description="Public id of the device's active credential (never the secret)."
    )
    open_alert_count: int
    highest_open_severity: Severity | None
    values: strawberry.Private[tuple[MetricValue, ...]]

    @strawberry.field
    def last_values(self, metrics: list[str] | None = None) -> list[MetricValue]:
        """The newest value of each metric (by device time), optionally only `metrics`."""
        wanted = None if metrics is None else set(metrics)
        return [v for v in self.values if wanted is None or v.metric in wanted]

    @classmethod
    def from_status(cls, status: DeviceStatus) -> Device:
        severity = status.highest_open_severity
        times = status.last_values_at
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
            connectivity=Connectivity(
                "unknown" if status.online is None else "online" if status.online else "offline"
            ),
            online=status.online,
            last_seen_at=status.last_seen_at,
            firmware_version=status.firmware_version,
            battery=status.battery,
            rssi=status.rssi,
            credential_id=status.credential_id,
            open_alert_count=status.open_alert_count,
            highest_open_severity=None if severity is None else Severity(severity),
            values=tuple(
                MetricValue(metric=m, value=v, at=times[m])
                for m, v in sorted(status.last_values.items())
                if m in times
            ),
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
