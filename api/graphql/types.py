"""GraphQL output types of the device slice, derived from the one definition of a device as
shown (`api.device_view`), built from `DeviceStatus` through it.

`Severity` and `MetricValue` are shared with the alert and telemetry slices (one definition per
GraphQL type name)."""

from __future__ import annotations

import strawberry

from api.device_view import (
    Connectivity,
    DeviceLifecycle,
    DevicePublic,
    MetricValuePublic,
    Severity,
)
from api.devices import device_status_from_notice_data
from api.graphql.derive import derived_type, graphql_enum
from read_side.device_status import DeviceStatus, Page, encode_cursor
from read_side.notifications import ChangeNotice

# The enums of `api.device_view`, registered as GraphQL enums (the other slices import them from
# `api.device_view`; this module is imported by every schema before it is built).
for _enum in (DeviceLifecycle, Connectivity, Severity):
    graphql_enum(_enum)


@derived_type(MetricValuePublic, name="MetricValue")
class MetricValue:
    view: strawberry.Private[MetricValuePublic]

    def __init__(self, view: MetricValuePublic) -> None:  # typed; the dataclass keeps it
        self.view = view


@derived_type(DevicePublic, name="Device")
class Device:
    """Every field but `lastValues` comes from `DevicePublic` (`api.graphql.derive`)."""

    view: strawberry.Private[DevicePublic]

    def __init__(self, view: DevicePublic) -> None:  # typed; the dataclass keeps it
        self.view = view

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
