"""GraphQL telemetry slice: the types of `telemetryHistory` (raw readings or rollups, paged; the
operation is `api.telemetry`'s), and the subscriptions `telemetry(deviceId)` (each stored batch
of a device) and `deviceStatusChanged(deviceId)` (each committed change of a device's status row).

The output types are derived from the slice's one definition (`api.telemetry`). Subscriptions
are fed by the fan-out after the projections commit; notices are at most once, so on any end a
client re-reads with queries and subscribes again."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from functools import partial
from uuid import UUID

import strawberry
from anyio import to_thread

from api.auth import Permission
from api.devices import parse_device_id
from api.graphql.context import Info
from api.graphql.derive import derived_type, part_type
from api.graphql.resume import PAGE, ExactResume, Resume, changes, current_rows
from api.graphql.scalars import Long
from api.graphql.types import DeviceChange, PageInfo
from api.ports import FleetSystem
from api.telemetry import (
    BucketPublic,
    DeviceReportPublic,
    HistoryPublic,
    ReadingPublic,
    TelemetryMessagePublic,
    TelemetryUpdatePublic,
    check_device,
)
from event_store.envelope import EventEnvelope
from read_side.device_status.columns import STATUS_JSON
from read_side.notifications import ChangeNotice
from read_side.telemetry import Resolution, batch_notice, fold, telemetry_topic
from read_side.telemetry.batch import as_applied
from write_side.alerts import ALERT_EVENTS
from write_side.devices import DEVICE_EVENTS
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED, TELEMETRY_EVENTS, telemetry_id

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
        self,
        info: Info,
        device_id: strawberry.ID,
        metrics: list[str] | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[TelemetryUpdate, None]:
        """Every batch of messages stored for the device from now on (one update per stored
        batch), optionally only some metrics. With `after` (the `position` of the last update
        received): first every batch stored since, in order, as it was stored (a late repeat
        dropped), then live; nothing missed, nothing twice."""
        caller = info.context.authorize(Permission.READ_DEVICES)
        device = parse_device_id(device_id, "deviceId")
        system = info.context.system
        await to_thread.run_sync(check_device, system, caller, device)
        topic = telemetry_topic(device)
        notices = changes(
            system, caller, topic, Permission.READ_DEVICES, lambda n: n.key == str(device),
            after, lambda: ExactResume("telemetry", partial(stored_batches, system, device)),
        )  # fmt: skip
        async with aclosing(notices):
            async for notice in notices:
                update = TelemetryUpdatePublic.from_notice(notice, metrics)
                if update.messages:
                    yield TelemetryUpdate(view=update)

    @strawberry.subscription
    async def device_status_changed(
        self, info: Info, device_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[DeviceStatusChange, None]:
        """Every committed change of the tenant's devices' status (or of one device's):
        registry changes, telemetry (last values, last seen), connectivity, open alerts;
        `after` (the `position` of the last change received): first the current status of
        each device changed since, once, in the order of their last change, then live
        (RESUME_TOO_OLD past 50,000 events: telemetry counts)."""
        caller = info.context.authorize(Permission.READ_DEVICES)
        wanted = None if device_id is None else str(parse_device_id(device_id, "deviceId"))
        system = info.context.system

        def keep(notice: ChangeNotice) -> bool:
            return wanted in (None, notice.key)

        def resume() -> Resume:
            rows = current_rows(DEVICE_STATUS_TOPIC, system.devices.get_many, STATUS_JSON.to_json)
            key_of = status_key(system, caller.tenant_id)
            return Resume("device_status", STATUS_TYPES, key_of, rows)

        notices = changes(
            system, caller, DEVICE_STATUS_TOPIC, Permission.READ_DEVICES, keep, after, resume
        )
        async with aclosing(notices):
            async for notice in notices:
                yield DeviceStatusChange.from_notice(notice)


# What changes a device's status row: its own events, its telemetry and its alerts.
STATUS_TYPES = tuple(name.type for name in (*DEVICE_EVENTS, *TELEMETRY_EVENTS, *ALERT_EVENTS))


def status_key(system: FleetSystem, tenant: str) -> Callable[[EventEnvelope], str | None]:
    """The device whose status row an event changes: a device event's stream; the device a
    telemetry or alert event names; an alert event that names none (acknowledged, resolved,
    ...): its alert's device, from the alerts model."""

    def key(event: EventEnvelope) -> str | None:
        if event.type in _DEVICE_TYPES:
            return event.stream_id
        device = event.payload.get("device_id")
        if device is None:
            alert = system.alerts.get_alert(tenant, UUID(event.stream_id))
            return None if alert is None else str(alert.device_id)
        return str(UUID(str(device)))

    return key


_DEVICE_TYPES = frozenset(name.type for name in DEVICE_EVENTS)


def stored_batches(
    system: FleetSystem, device: UUID, tenant: str, after: int, upto: int
) -> list[ChangeNotice]:
    """The `telemetry` notices of the device's batches stored in `(after, upto]`, in order, as
    the telemetry model published them: each `Telemetry.BatchRecorded` of its stream, folded
    and without the late entries an earlier event stored (`as_applied`); none for a batch
    left empty."""
    stream = str(telemetry_id(tenant, device))
    events = system.event_log.read_range(
        after=after, up_to=upto, tenant_id=tenant, types=(TELEMETRY_BATCH_RECORDED.type,),
        page=PAGE,
    )  # fmt: skip
    found = []
    for envelope in events:
        if envelope.stream_id != stream:
            continue
        batch = as_applied(fold(envelope), system.telemetry.stored_before)
        if batch.entries:
            found.append(batch_notice(batch, envelope.type))
    return found
