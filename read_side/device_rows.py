"""Row codec for the device-status model, shared by its SQLite writer and reader."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from read_side.device_status import DeviceStatus

COLUMNS = (
    "tenant_id",
    "device_id",
    "name",
    "device_type",
    "lifecycle",
    "tags",
    "metadata",
    "version",
    "registered_at",
    "updated_at",
    "decommissioned_at",
    "decommission_reason",
    "position",
)


def to_row(status: DeviceStatus) -> tuple[Any, ...]:
    return (
        status.tenant_id,
        status.device_id.hex,
        status.name,
        status.device_type,
        status.lifecycle,
        json.dumps(list(status.tags)),
        json.dumps(status.metadata, sort_keys=True),
        status.version,
        status.registered_at.isoformat(),
        status.updated_at.isoformat(),
        status.decommissioned_at.isoformat() if status.decommissioned_at else None,
        status.decommission_reason,
        status.position,
    )


def from_row(row: Any) -> DeviceStatus:
    """A DeviceStatus from a row indexable by column name (sqlite3.Row)."""
    return DeviceStatus(
        device_id=UUID(hex=row["device_id"]),
        tenant_id=row["tenant_id"],
        name=row["name"],
        device_type=row["device_type"],
        tags=tuple(json.loads(row["tags"])),
        metadata=json.loads(row["metadata"]),
        lifecycle=row["lifecycle"],
        version=row["version"],
        registered_at=datetime.fromisoformat(row["registered_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        decommissioned_at=(
            datetime.fromisoformat(row["decommissioned_at"]) if row["decommissioned_at"] else None
        ),
        decommission_reason=row["decommission_reason"],
        position=row["position"],
    )
