"""Device queries: read the device-status model only."""

from __future__ import annotations

from functools import partial

import strawberry
from anyio import to_thread

from api.auth import Permission
from api.device_view import DeviceQuery
from api.devices import parse_device_id
from api.graphql.context import Info
from api.graphql.derive import model_of
from api.graphql.types import Connection, Device, DeviceFilterInput, device_connection
from read_side.device_status import DeviceFilter, check_page_size


@strawberry.type
class Query:
    @strawberry.field
    async def device(self, info: Info, id: strawberry.ID) -> Device | None:
        caller = info.context.authorize(Permission.READ_DEVICES)
        devices = info.context.system.devices
        status = await to_thread.run_sync(devices.get, caller.tenant_id, parse_device_id(id))
        return None if status is None else Device.from_status(status)

    @strawberry.field
    async def devices(
        self,
        info: Info,
        filter: DeviceFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Device]:
        caller = info.context.authorize(Permission.READ_DEVICES)
        devices = info.context.system.devices
        criteria = DeviceFilter() if filter is None else model_of(filter, DeviceQuery).criteria()
        read = partial(devices.list, caller.tenant_id, criteria, check_page_size(first), after)
        return device_connection(await to_thread.run_sync(read))
