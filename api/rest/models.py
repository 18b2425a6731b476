"""REST request and response bodies (camelCase on the wire), one model per use.

A device as shown is `api.device_view.DevicePublic`, the one definition GraphQL derives from too;
the page of devices below is made of it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.device_view import DevicePublic
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
