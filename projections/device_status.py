"""The device-status projection: folds Device events into one row per device.

`evolve` is pure (no I/O); `DeviceStatusProjection` reads the current row, evolves it and hands
the new row plus the checkpoint to the view, which commits both together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from read_side.device_status import DeviceStatus, DeviceStatusReader
from read_side.notifications import ChangeNotice

DEVICE_TOPIC_PREFIX = "write_side.devices:Device."


class DeviceStatusView(ABC):
    """Port for the projection's writes: the row and the checkpoint commit together."""

    @abstractmethod
    def save(self, status: DeviceStatus, tracking: Tracking) -> None:
        """Upsert the row and record `tracking` atomically (a seen tracking id: IntegrityError)."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""


def evolve(current: DeviceStatus | None, envelope: EventEnvelope) -> DeviceStatus | None:
    """The row after `envelope`; None when the event does not concern this model."""
    payload = envelope.payload
    common: dict[str, Any] = {
        "version": envelope.version,
        "updated_at": envelope.occurred_at,
        "position": envelope.position or 0,
    }
    if envelope.type == "Device.Registered":
        return DeviceStatus(
            device_id=UUID(envelope.stream_id),
            tenant_id=str(payload["tenant_id"]),
            name=str(payload["name"]),
            device_type=str(payload["device_type"]),
            tags=tuple(payload.get("tags") or ()),
            metadata=dict(payload.get("metadata") or {}),
            lifecycle="active",
            registered_at=envelope.occurred_at,
            **common,
        )
    if current is None:
        return None
    if envelope.type == "Device.Updated":
        changes = {
            key: payload[key]
            for key in ("name", "device_type", "metadata")
            if payload.get(key) is not None
        }
        if payload.get("tags") is not None:
            changes["tags"] = tuple(payload["tags"])
        return replace(current, **changes, **common)
    if envelope.type == "Device.Decommissioned":
        return replace(
            current,
            lifecycle="decommissioned",
            decommissioned_at=envelope.occurred_at,
            decommission_reason=payload.get("reason"),
            **common,
        )
    return None


def status_to_json(status: DeviceStatus) -> dict[str, Any]:
    """A JSON-ready dict of the row (used for change notices)."""
    data = asdict(status)
    data["device_id"] = str(status.device_id)
    data["tags"] = list(status.tags)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data


class DeviceStatusProjection:
    name = "device_status"

    def __init__(self, view: DeviceStatusView, reader: DeviceStatusReader) -> None:
        self.view = view
        self.reader = reader

    def handles(self, topic: str) -> bool:
        return topic.startswith(DEVICE_TOPIC_PREFIX)

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        device_id = UUID(envelope.stream_id)
        current = self.reader.get(envelope.tenant_id, device_id)
        if current is not None and current.version >= envelope.version:
            return []  # already applied (the checkpoint lagged the row): nothing to do
        new = evolve(current, envelope)
        if new is None:
            return []
        self.view.save(new, tracking)
        return [
            ChangeNotice(
                tenant_id=new.tenant_id,
                topic="device",
                key=str(device_id),
                position=new.position,
                event_type=envelope.type,
                data=status_to_json(new),
            )
        ]
