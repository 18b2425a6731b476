"""Subscriptions: live device changes of the caller's tenant, from the change fan-out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry

from api.auth import Permission, authorize
from api.devices import DEVICE_TOPIC, parse_device_id
from api.graphql.context import Info
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
        notices = info.context.system.fanout.subscribe(caller.tenant_id, DEVICE_TOPIC)
        try:
            async for notice in notices:
                if notice.tenant_id != caller.tenant_id or wanted not in (None, notice.key):
                    continue
                authorize(caller, Permission.READ_DEVICES)  # ends the stream once the token expires
                yield DeviceChange.from_notice(notice)
        finally:
            await _close(notices)


async def _close(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
