"""The telemetry slice as both API adapters show it, declared once (issue 11, item 1), and its
one use case, a device's history for a caller.

`HistoryPublic` (made of `ReadingPublic` and `BucketPublic`) is the REST response of
`GET /devices/{deviceId}/history` and GraphQL's `TelemetryHistory` is derived from it
(`api.graphql.derive`); GraphQL shows `nextCursor` as `pageInfo`, as its other pages do. The
resolution is the read model's own `Resolution`: its values are the REST wire's (`raw`, `1m`),
its member names GraphQL's enum values. The `telemetry` subscription's updates
(`TelemetryUpdatePublic`) are declared here too, and built from a change notice here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry
from anyio import to_thread
from fastapi import Path, Query
from pydantic import Field

from api.auth import Permission, Principal
from api.device_view import MetricValuePublic, View
from api.devices import parse_device_id
from api.graphql.scalars import Long
from api.operations import AFTER, QUERY, Arg, Call, GraphQL, Operation, Rest
from api.ports import FleetSystem
from api.rest.errors import not_found
from read_side.notifications import ChangeNotice
from read_side.paging import Page
from read_side.telemetry import (
    DEFAULT_HISTORY_PAGE,
    Bucket,
    HistoryQuery,
    RawReading,
    Resolution,
    from_epoch_ms,
)
from write_side.errors import NotFound

V = TypeVar("V", bound=View)


class ReadingPublic(View):
    at: datetime = Field(description="Device time.")
    value: float
    message_id: str


class BucketPublic(View):
    start: datetime
    end: datetime
    min: float
    max: float
    avg: float
    sum: float
    count: int


class HistoryPublic(View):
    """One page of a device's metric: `readings` for the raw resolution, else `buckets`."""

    device_id: UUID
    metric: str
    resolution: Resolution
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    readings: list[ReadingPublic] = Field(description="For the raw resolution, else empty.")
    buckets: list[BucketPublic] = Field(description="For a rollup resolution, else empty.")
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def from_page(cls, query: HistoryQuery, page: Page[RawReading] | Page[Bucket]) -> HistoryPublic:
        items: list[RawReading | Bucket] = list(page.items)
        return cls(
            device_id=query.device_id,
            metric=query.metric,
            resolution=query.resolution,
            start=query.start,
            end=query.end,
            # The rows have every field of the shapes (a bucket's `end`, `avg` as properties).
            readings=[_shown(ReadingPublic, r) for r in items if isinstance(r, RawReading)],
            buckets=[_shown(BucketPublic, b) for b in items if isinstance(b, Bucket)],
            next_cursor=page.next_cursor,
        )


class DeviceReportPublic(View):
    firmware_version: str | None
    battery: float | None
    rssi: float | None


class TelemetryMessagePublic(View):
    message_id: str
    at: datetime
    received_at: datetime
    metrics: list[MetricValuePublic]
    status: DeviceReportPublic | None


class TelemetryUpdatePublic(View):
    """The messages of one stored batch of a device (one event)."""

    device_id: UUID
    messages: list[TelemetryMessagePublic]
    position: Long
    version: int  # of the device's telemetry stream

    @classmethod
    def from_notice(cls, notice: ChangeNotice, metrics: list[str] | None) -> TelemetryUpdatePublic:
        """The batch a notice carries, with only the `metrics` wanted (all when None); a
        message without any wanted metric is left out."""
        data = notice.data
        received_at = datetime.fromisoformat(data["received_at"])
        messages = []
        for message in data["messages"]:
            at = from_epoch_ms(int(message["at_ms"]))
            values = [
                MetricValuePublic(metric=m, value=float(v), at=at)
                for m, v in message["metrics"].items()
                if metrics is None or m in metrics
            ]
            if values or metrics is None:
                messages.append(
                    TelemetryMessagePublic(
                        message_id=message["message_id"],
                        at=at,
                        received_at=received_at,
                        metrics=values,
                        status=_report(message.get("status") or {}),
                    )
                )
        return cls(
            device_id=data["device_id"],
            messages=messages,
            position=Long(notice.position),
            version=int(data["version"]),
        )


def _report(status: dict[str, Any]) -> DeviceReportPublic | None:
    """A message's device report (any of its fields may be missing); None without one."""
    if not status:
        return None
    return DeviceReportPublic(
        **{name: status.get(name) for name in DeviceReportPublic.model_fields}
    )


def _shown(model: type[V], row: object) -> V:
    return model.model_validate(row, from_attributes=True)


def check_device(system: FleetSystem, caller: Principal, device_id: UUID) -> None:
    """NOT_FOUND unless the device exists in the caller's tenant."""
    if system.devices.get(caller.tenant_id, device_id) is None:
        raise NotFound(f"device {device_id} not found")


def read_history(system: FleetSystem, caller: Principal, query: HistoryQuery) -> HistoryPublic:
    """A page of raw readings or rollup buckets of one of the caller's devices (blocking: run
    it in a worker thread)."""
    check_device(system, caller, query.device_id)
    return HistoryPublic.from_page(query, system.telemetry.history(caller.tenant_id, query))


async def device_history(call: Call) -> HistoryPublic:
    """A device's metric over `[from, to)`: raw readings (RAW, at most 31 days) or
    min/max/avg/count buckets (MINUTE: 31 days, HOUR: 2 years, DAY: 10 years), oldest first,
    `first` (1..5000) per page; pass `nextCursor` (GraphQL: `pageInfo.endCursor`) as `after`."""
    query = HistoryQuery.checked(
        call["device_id"], call["metric"], call["start"], call["end"],
        resolution=call["resolution"], first=call["first"], after=call["after"],
    )  # fmt: skip
    return await to_thread.run_sync(read_history, call.system, call.caller, query)


OPERATIONS = (
    Operation(
        "device_history", Permission.READ_DEVICES, device_history, HistoryPublic,
        args=(
            Arg(
                "device_id",
                Annotated[UUID, Path(alias="deviceId", description="The device's id.")],
                strawberry.ID, parse=parse_device_id,
            ),
            Arg("metric", Annotated[str, Query(description="Metric name, e.g. `temp`.")], str),
            Arg(
                "start",
                Annotated[datetime, Query(alias="from", description="Inclusive (ISO 8601).")],
                Annotated[datetime, strawberry.argument(name="from")],
            ),
            Arg(
                "end",
                Annotated[datetime, Query(alias="to", description="Exclusive (ISO 8601).")],
                Annotated[datetime, strawberry.argument(name="to")],
            ),
            Arg("resolution", Resolution, Resolution, Resolution.RAW),
            Arg("first", int, int, DEFAULT_HISTORY_PAGE),
            Arg(
                "after", Annotated[str | None, Query(description=AFTER)], str | None, None
            ),
        ),
        rest=Rest(
            "GET", "/devices/{deviceId}/history",
            "A device's telemetry history: raw readings or min/max/avg/count buckets",
            etag=False, responses=not_found("device"),
        ),
        graphql=GraphQL("telemetry_history", QUERY),
    ),
)  # fmt: skip
