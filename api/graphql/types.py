"""GraphQL types of the device slice, derived from the one definition of a device as shown
(`api.device_view`); a device is built from `DeviceStatus` through it. Its inputs are derived
from the operation table (`api.devices`) by `api.graphql.fields`, but `UpdateDeviceInput`,
which GraphQL takes otherwise than REST.

`Severity`, `MetricValue`, `PageInfo` and the generic `Edge`/`Connection` (a `DeviceConnection`
of `DeviceEdge`s) are shared with the other slices (one definition per GraphQL type name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Self, TypeVar

import strawberry

from api.credentials import DeviceCredentialPublic
from api.device_view import (
    Connectivity,
    DeviceLifecycle,
    DevicePublic,
    DeviceUpdate,
    MetricValuePublic,
    Severity,
)
from api.devices import device_status_from_notice_data
from api.graphql.derive import derived_input, derived_type, graphql_enum
from read_side.device_status import DeviceStatus, Page
from read_side.notifications import ChangeNotice

# The enums of `api.device_view`, registered as GraphQL enums (the other slices import them from
# `api.device_view`; this module is imported by every schema before it is built).
for _enum in (DeviceLifecycle, Connectivity, Severity):
    graphql_enum(_enum)

T = TypeVar("T")
R = TypeVar("R")


@derived_type(MetricValuePublic, name="MetricValue")
class MetricValue:
    view: strawberry.Private[MetricValuePublic]


@derived_type(DevicePublic, name="Device")
class Device:
    """Every field but `lastValues` comes from `DevicePublic` (`api.graphql.derive`)."""

    view: strawberry.Private[DevicePublic]

    @strawberry.field
    def last_values(self, metrics: list[str] | None = None) -> list[MetricValue]:
        """The newest value of each metric (by device time), optionally only `metrics`."""
        wanted = None if metrics is None else set(metrics)
        return [
            MetricValue(view=v)
            for v in self.view.last_values
            if wanted is None or v.metric in wanted
        ]

    @classmethod
    def from_status(cls, status: DeviceStatus) -> Device:
        return cls(view=DevicePublic.from_status(status))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection(page: Page[R], node: Callable[[R], T], cursor: Callable[[R], str]) -> Connection[T]:
    """A page of rows as a connection; `endCursor` is where the read stopped (`nextCursor`:
    the last edge's, or past rows a filter skipped), else the last edge's cursor."""
    edges = [Edge(cursor=cursor(item), node=node(item)) for item in page.items]
    end_cursor = page.next_cursor or (edges[-1].cursor if edges else None)
    page_info = PageInfo(has_next_page=page.next_cursor is not None, end_cursor=end_cursor)
    return Connection(edges=edges, page_info=page_info)


@strawberry.type
class DeviceChange:
    """A committed change of a device's row (`deviceChanged`; `deviceStatusChanged` shows the
    same as `DeviceStatusChange`, its position a `Long`)."""

    device: Device
    event_type: str
    position: int  # still `Int` here (docs/decisions.md, item 5)

    @classmethod
    def from_notice(cls, notice: ChangeNotice) -> Self:
        return cls(
            device=Device.from_status(device_status_from_notice_data(notice.data)),
            event_type=notice.event_type,
            position=notice.position,
        )


@derived_input(DeviceUpdate, name="UpdateDeviceInput")
class UpdateDeviceInput:
    id: strawberry.ID
    expected_version: int  # required: GraphQL has no If-Match header


@derived_type(DeviceCredentialPublic, name="DeviceCredential")
class DeviceCredential:
    view: strawberry.Private[DeviceCredentialPublic]
