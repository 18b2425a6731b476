"""Mutations: build the command, run it, return the device as saved (read-your-writes)."""

from __future__ import annotations

import strawberry

from api.auth import Permission
from api.command_path import build_command
from api.devices import run_device_command
from api.graphql.context import Info
from api.graphql.inputs import DecommissionDeviceInput, RegisterDeviceInput, UpdateDeviceInput
from api.graphql.types import Device
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register_device(self, info: Info, input: RegisterDeviceInput) -> Device:
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        command = build_command(
            RegisterDevice,
            {
                "name": input.name,
                "device_type": input.device_type,
                "tags": input.tags,
                "metadata": {} if input.metadata is None else input.metadata,
            },
        )
        system = info.context.system
        return Device.from_status(
            await run_device_command(system, caller, system.device_service.register, command)
        )

    @strawberry.mutation
    async def update_device(self, info: Info, input: UpdateDeviceInput) -> Device:
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        command = build_command(
            UpdateDevice,
            {
                "device_id": input.id,
                "expected_version": input.expected_version,
                "name": input.name,
                "device_type": input.device_type,
                "tags": input.tags,
                "metadata": input.metadata,
            },
        )
        system = info.context.system
        return Device.from_status(
            await run_device_command(system, caller, system.device_service.update, command)
        )

    @strawberry.mutation
    async def decommission_device(self, info: Info, input: DecommissionDeviceInput) -> Device:
        caller = info.context.authorize(Permission.WRITE_DEVICES)
        command = build_command(
            DecommissionDevice,
            {
                "device_id": input.id,
                "expected_version": input.expected_version,
                "reason": input.reason,
            },
        )
        system = info.context.system
        return Device.from_status(
            await run_device_command(system, caller, system.device_service.decommission, command)
        )
