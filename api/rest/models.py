"""REST request and response bodies (camelCase on the wire), one model per use."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from read_side.device_status import DeviceStatus, Page
from write_side.commands import DeviceType, Metadata, Name, Tags


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class DeviceCreate(CamelModel):
    name: Name
    device_type: DeviceType
    tags: Tags = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)


class DeviceUpdate(CamelModel):
    """Only the fields sent change. The version may also come as an `If-Match` header."""

    expected_version: int | None = Field(default=None, ge=1)
    name: Name | None = None
    device_type: DeviceType | None = None
    tags: Tags | None = None
    metadata: Metadata | None = None


class MetricValuePublic(CamelModel):
    metric: str
    value: float
    at: datetime = Field(description="Device time of the reading.")


class DevicePublic(CamelModel):
    id: UUID
    name: str
    device_type: str
    tags: list[str]
    metadata: dict[str, str]
    lifecycle: Literal["active", "decommissioned"]
    version: int
    registered_at: datetime
    updated_at: datetime
    decommissioned_at: datetime | None
    decommission_reason: str | None
    # Status fields (issue 4): telemetry, connectivity, open alerts.
    connectivity: Literal["unknown", "online", "offline"]
    online: bool | None = Field(description="Null until the device first reports.")
    last_seen_at: datetime | None = Field(description="Server time of the last telemetry.")
    last_values: list[MetricValuePublic] = Field(description="Newest value of each metric.")
    firmware_version: str | None
    battery: float | None
    rssi: float | None
    credential_id: str | None
    open_alert_count: int
    highest_open_severity: Literal["info", "warning", "critical"] | None

    @classmethod
    def from_status(cls, status: DeviceStatus) -> DevicePublic:
        times = status.last_values_at
        severity = status.highest_open_severity
        return cls(
            id=status.device_id,
            name=status.name,
            device_type=status.device_type,
            tags=list(status.tags),
            metadata=dict(status.metadata),
            lifecycle=status.lifecycle,
            version=status.version,
            registered_at=status.registered_at,
            updated_at=status.updated_at,
            decommissioned_at=status.decommissioned_at,
            decommission_reason=status.decommission_reason,
            connectivity=(
                "unknown" if status.online is None else "online" if status.online else "offline"
            ),
            online=status.online,
            last_seen_at=status.last_seen_at,
            last_values=[
                MetricValuePublic(metric=m, value=v, at=times[m])
                for m, v in sorted(status.last_values.items())
                if m in times
            ],
            firmware_version=status.firmware_version,
            battery=status.battery,
            rssi=status.rssi,
            credential_id=status.credential_id,
            open_alert_count=status.open_alert_count,
            highest_open_severity=(
                severity if severity in ("info", "warning", "critical") else None
            ),
        )


class DevicesPage(CamelModel):
    items: list[DevicePublic]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def from_page(cls, page: Page[DeviceStatus]) -> DevicesPage:
        return cls(
            items=[DevicePublic.from_status(item) for item in page.items],
            next_cursor=page.next_cursor,
        )


class ErrorDetail(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str
    field: str | None = Field(default=None, description="The input field at fault, if any.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ProjectionHealth(CamelModel):
    position: int
    lag: int


class Health(CamelModel):
    status: Literal["ok", "unavailable"]
    store: str
    fanout: Literal["in-process", "redis"]
    feed_head: int | None = None
    projections: dict[str, ProjectionHealth] = Field(default_factory=dict)
