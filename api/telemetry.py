"""The telemetry use cases both API adapters share: a device's history, for a caller."""

from __future__ import annotations

from uuid import UUID

from api.auth import Principal
from api.ports import FleetSystem
from read_side.paging import Page
from read_side.telemetry import Bucket, HistoryQuery, RawReading
from write_side.errors import NotFound


def check_device(system: FleetSystem, caller: Principal, device_id: UUID) -> None:
    """NOT_FOUND unless the device exists in the caller's tenant."""
    if system.devices.get(caller.tenant_id, device_id) is None:
        raise NotFound(f"device {device_id} not found")


def read_history(
    system: FleetSystem, caller: Principal, query: HistoryQuery
) -> Page[RawReading] | Page[Bucket]:
    """Raw readings or rollup buckets of one of the caller's devices (blocking: run it in a
    worker thread)."""
    check_device(system, caller, query.device_id)
    return system.telemetry.history(caller.tenant_id, query)
