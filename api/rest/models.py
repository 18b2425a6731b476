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

    @classmethod
    def from_status(cls, status: DeviceStatus) -> DevicePublic:
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
