"""REST response bodies (camelCase on the wire) not shared with GraphQL, one model per use.

A device as shown and its request bodies are in `api.device_view`, the one definition GraphQL
derives from too; the page of devices below is made of it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.device_view import DevicePublic, View
from read_side.device_status import DeviceStatus, Page


class CamelModel(View):
    """camelCase on the wire, unknown fields rejected: the output shapes' base, by its REST name."""


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
