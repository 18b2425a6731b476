"""REST response bodies (camelCase on the wire) not shared with GraphQL, one model per use.

A device as shown and its request bodies are in `api.device_view`, the one definition GraphQL
derives from too; the page of devices below is made of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, Field

from api.device_view import DevicePublic, View
from read_side.paging import Page

T = TypeVar("T")


class CamelModel(View):
    """camelCase on the wire, unknown fields rejected: the output shapes' base, by its REST name."""


class ItemsPage(CamelModel, Generic[T]):
    """A page of a list: each model below is one (its OpenAPI component keeps its name)."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def of(cls, page: Page[Any], shown: Callable[[Any], T]) -> Self:
        """The page of rows, each as `shown(row)`."""
        return cls(items=[shown(row) for row in page.items], next_cursor=page.next_cursor)


class DevicesPage(ItemsPage[DevicePublic]):
    pass


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
