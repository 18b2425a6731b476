"""GraphQL telemetry slice: the types of `telemetryHistory` (raw readings or rollups, paged; the
operation is `api.telemetry`'s), and the subscriptions `telemetry(deviceId)` (each stored batch
of a device) and `deviceStatusChanged(deviceId)` (each committed change of a device's status row).

The output types are derived from the slice's one definition (`api.telemetry`). Subscriptions
are fed by the fan-out after the projections commit; notices are at most once, so on any end a
client re-reads with queries and subscribes again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from anyio import to_thread

from api.auth import Permission
from api.devices import parse_device_id
from api.graphql.context import Info
from api.graphql.derive import derived_type, part_type
from api.graphql.notices import tenant_notices
from api.graphql.scalars import Long
from api.graphql.types import DeviceChange, PageInfo
from api.telemetry import (
    BucketPublic,
    DeviceReportPublic,
    HistoryPublic,
    ReadingPublic,
    TelemetryMessagePublic,
    TelemetryUpdatePublic,
    check_device,
)
from read_side.telemetry import Resolution, telemetry_topic

DEVICE_STATUS_TOPIC = "device_status"

# The read model's enum, under the name the schema has always given it.
strawberry.enum(Resolution, name="TelemetryResolution")


# The parts of the history and of an update: shown only as their fields.
part_type(ReadingPublic, "TelemetryReading")
part_type(BucketPublic, "TelemetryBucket")
part_type(DeviceReportPublic, "DeviceReport")
part_type(TelemetryMessagePublic, "TelemetryMessage")


@derived_type(HistoryPublic, name="TelemetryHistory")
class TelemetryHistory:
    view: strawberry.Private[HistoryPublic]
    # REST's `nextCursor`: not a field here, GraphQL pages show it in `pageInfo`.
    next_cursor: strawberry.Private[str | None] = None

    @strawberry.field
    def page_info(self) -> PageInfo:
        cursor = self.view.next_cursor
        return PageInfo(has_next_page=cursor is not None, end_cursor=cursor)


@derived_type(TelemetryUpdatePublic, name="TelemetryUpdate")
class TelemetryUpdate:
    view: strawberry.Private[TelemetryUpdatePublic]


@strawberry.type
class DeviceStatusChange(DeviceChange):
    position: Long


@strawberry.type
class TelemetrySubscription:
    @strawberry.subscription
    async def telemetry(
        self, info: Info, device_id: strawberry.ID, metrics: list[str] | None = None
    ) -> AsyncGenerator[TelemetryUpdate, None]:
        """Every batch of messages stored for the device from now on (one update per stored
        batch), optionally only some metrics."""
        caller = info.context.authorize(Permission.READ_DEVICES)
        device = parse_device_id(device_id, "deviceId")
        system = info.context.system
        await to_thread.run_sync(check_device, system, caller, device)
        topic = telemetry_topic(device)
        notices = tenant_notices(
            system, caller, topic, Permission.READ_DEVICES, lambda n: n.key == str(device)
        )
        async with aclosing(notices):
            async for notice in notices:
                update = TelemetryUpdatePublic.from_notice(notice, metrics)
                if update.messages:
                    yield TelemetryUpdate(view=update)

    @strawberry.subscription
    async def device_status_changed(
        self, info: Info, device_id: strawberry.ID | None = None
    ) -> AsyncGenerator[DeviceStatusChange, None]:
        """Every committed change of the tenant's devices' status (or of one device's):
        registry changes, telemetry (last values, last seen), connectivity, open alerts."""
        caller = info.context.authorize(Permission.READ_DEVICES)
        wanted = None if device_id is None else str(parse_device_id(device_id, "deviceId"))
        notices = tenant_notices(
            info.context.system,
            caller,
            DEVICE_STATUS_TOPIC,
            Permission.READ_DEVICES,
            lambda n: wanted in (None, n.key),
        )
        async with aclosing(notices):
            async for notice in notices:
                yield DeviceStatusChange.from_notice(notice)
