"""Device mutations: the input as its shape (`model_of`), the shared use case (`api.devices`, the
one command path), the device as saved back (read-your-writes)."""

from __future__ import annotations

import strawberry

from api import devices
from api.auth import Permission
from api.device_view import DeviceCreate, DeviceDecommission, DeviceUpdate
from api.graphql.context import Info
from api.graphql.derive import model_of
from api.graphql.types import (
    DecommissionDeviceInput,
    Device,
    RegisterDeviceInput,
    UpdateDeviceInput,
)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register_device(self, info: Info, input: RegisterDeviceInput) -> Device:
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        shape = model_of(input, DeviceCreate)
        return Device.from_status(await devices.register_device(info.context.system, caller, shape))

    @strawberry.mutation
    async def update_device(self, info: Info, input: UpdateDeviceInput) -> Device:
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        device_id, shape = devices.parse_device_id(input.id), model_of(input, DeviceUpdate)
        status = await devices.update_device(info.context.system, caller, device_id, shape)
        return Device.from_status(status)

    @strawberry.mutation
    async def decommission_device(self, info: Info, input: DecommissionDeviceInput) -> Device:
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        device_id, shape = devices.parse_device_id(input.id), model_of(input, DeviceDecommission)
        status = await devices.decommission_device(info.context.system, caller, device_id, shape)
        return Device.from_status(status)
