"""Subscriptions: live device changes of the caller's tenant, from the change fan-out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from api.auth import Permission
from api.devices import DEVICE_TOPIC, parse_device_id
from api.graphql.context import Info
from api.graphql.notices import tenant_notices
from api.graphql.types import DeviceChange


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def device_changed(
        self, info: Info, device_id: strawberry.ID | None = None
    ) -> AsyncGenerator[DeviceChange, None]:
        """Every change to the tenant's devices (or to one device) from now on. A subscriber
        that falls behind is ended with SUBSCRIBER_TOO_SLOW; notices are at most once, so on
        any end, re-read and subscribe again."""
        caller = info.context.authorize(Permission.READ_DEVICES)
        wanted = None if device_id is None else str(parse_device_id(device_id, "deviceId"))
        system = info.context.system
        notices = tenant_notices(
            system, caller, DEVICE_TOPIC, Permission.READ_DEVICES, lambda n: wanted in (None, n.key)
        )
        async with aclosing(notices):
            async for notice in notices:
                yield DeviceChange.from_notice(notice)
