"""GraphQL output types of the telemetry slice: history pages, live telemetry, status changes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api.device_view import MetricValuePublic
from api.devices import device_status_from_notice_data
from api.graphql.scalars import Long
from api.graphql.types import Device, MetricValue, PageInfo
from read_side.device_status import Page
from read_side.notifications import ChangeNotice
from read_side.telemetry import Bucket, HistoryQuery, RawReading, from_epoch_ms


@strawberry.enum
class TelemetryResolution(Enum):
    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"


@strawberry.type
class TelemetryReading:
    at: datetime  # device time
    value: float
    message_id: str


@strawberry.type
class TelemetryBucket:
    start: datetime
    end: datetime
    min: float
    max: float
    avg: float
    sum: float
    count: int


@strawberry.type
class TelemetryHistory:
    """One page of a device's metric: `readings` for RAW, `buckets` otherwise (the other list
    is empty)."""

    device_id: strawberry.ID
    metric: str
    resolution: TelemetryResolution
    start: datetime = strawberry.field(name="from")
    end: datetime = strawberry.field(name="to")
    readings: list[TelemetryReading]
    buckets: list[TelemetryBucket]
    page_info: PageInfo

    @classmethod
    def from_page(
        cls, query: HistoryQuery, page: Page[RawReading] | Page[Bucket]
    ) -> TelemetryHistory:
        readings = [
            TelemetryReading(at=r.at, value=r.value, message_id=r.message_id)
            for r in page.items
            if isinstance(r, RawReading)
        ]
        buckets = [
            TelemetryBucket(
                start=b.start, end=b.end, min=b.min, max=b.max, avg=b.avg, sum=b.sum, count=b.count
            )
            for b in page.items
            if isinstance(b, Bucket)
        ]
        return cls(
            device_id=strawberry.ID(str(query.device_id)),
            metric=query.metric,
            resolution=TelemetryResolution(query.resolution.value),
            start=query.start,
            end=query.end,
            readings=readings,
            buckets=buckets,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor
            ),
        )


@strawberry.type
class DeviceReport:
    firmware_version: str | None
    battery: float | None
    rssi: float | None


@strawberry.type
class TelemetryMessage:
    message_id: str
    at: datetime  # device time
    received_at: datetime
    metrics: list[MetricValue]
    status: DeviceReport | None


@strawberry.type
class TelemetryUpdate:
    """The messages of one stored batch of a device (one event)."""

    device_id: strawberry.ID
    messages: list[TelemetryMessage]
    position: Long
    version: int  # of the device's telemetry stream

    @classmethod
    def from_notice(cls, notice: ChangeNotice, metrics: list[str] | None) -> TelemetryUpdate:
        data = notice.data
        wanted = None if metrics is None else set(metrics)
        received_at = datetime.fromisoformat(data["received_at"])
        messages = []
        for message in data["messages"]:
            at = from_epoch_ms(int(message["at_ms"]))
            values = [
                MetricValue(view=MetricValuePublic(metric=m, value=float(v), at=at))
                for m, v in message["metrics"].items()
                if wanted is None or m in wanted
            ]
            if values or wanted is None:
                messages.append(
                    TelemetryMessage(
                        message_id=message["message_id"],
                        at=at,
                        received_at=received_at,
                        metrics=values,
                        status=_report(message.get("status") or {}),
                    )
                )
        return cls(
            device_id=strawberry.ID(str(data["device_id"])),
            messages=messages,
            position=Long(notice.position),
            version=int(data["version"]),
        )


def _report(status: dict[str, Any]) -> DeviceReport | None:
    if not status:
        return None
    return DeviceReport(
        firmware_version=status.get("firmware_version"),
        battery=status.get("battery"),
        rssi=status.get("rssi"),
    )


@strawberry.type
class DeviceStatusChange:
    device: Device
    event_type: str
    position: Long

    @classmethod
    def from_notice(cls, notice: ChangeNotice) -> DeviceStatusChange:
        return cls(
            device=Device.from_status(device_status_from_notice_data(notice.data)),
            event_type=notice.event_type,
            position=Long(notice.position),
        )
