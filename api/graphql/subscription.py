"""Subscriptions: live device changes of the caller's tenant, from the change fan-out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from api.auth import Permission
from api.devices import DEVICE_TOPIC, parse_device_id
from api.graphql.context import Info
from api.graphql.resume import Resume, changes, current_rows, stream_key
from api.graphql.types import DeviceChange
from read_side.device_status.columns import STATUS_JSON
from read_side.notifications import ChangeNotice
from write_side.devices import DEVICE_EVENTS


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def device_changed(
        self, info: Info, device_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[DeviceChange, None]:
        """Every change to the tenant's devices (or to one device) from now on; with `after`
        (the `position` of the last change received), first the current state of each device
        changed since, in the order of their last change (each with that change's position),
        then live: nothing missed, nothing twice (RESUME_TOO_OLD past 50,000 events: re-read
        and subscribe without it). A subscriber that falls behind is ended with
        SUBSCRIBER_TOO_SLOW: resume with the last position."""
        caller = info.context.authorize(Permission.READ_DEVICES)
        wanted = None if device_id is None else str(parse_device_id(device_id, "deviceId"))
        system = info.context.system

        def keep(notice: ChangeNotice) -> bool:
            return wanted in (None, notice.key)

        def resume() -> Resume:
            rows = current_rows(DEVICE_TOPIC, system.devices.get_many, STATUS_JSON.to_json)
            return Resume("device_status", DEVICE_TYPES, stream_key, rows)

        notices = changes(
            system, caller, DEVICE_TOPIC, Permission.READ_DEVICES, keep, after, resume
        )
        async with aclosing(notices):
            async for notice in notices:
                yield DeviceChange.from_notice(notice)


DEVICE_TYPES = tuple(name.type for name in DEVICE_EVENTS)
