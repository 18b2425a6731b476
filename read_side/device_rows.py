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
    "credential_id",
    "last_seen_at",
    "online",
    "last_values",
    "firmware_version",
    "battery",
    "rssi",
    "telemetry_version",
    "open_alerts",
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
        status.credential_id,
        _iso(status.last_seen_at),
        None if status.online is None else int(status.online),
        json.dumps(
            {m: [v, _iso(status.last_values_at.get(m))] for m, v in status.last_values.items()}
        ),
        status.firmware_version,
        status.battery,
        status.rssi,
        status.telemetry_version,
        json.dumps(status.open_alerts, sort_keys=True),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def from_row(row: Any) -> DeviceStatus:
    """A DeviceStatus from a row indexable by column name (sqlite3.Row)."""
    values: dict[str, list[Any]] = json.loads(row["last_values"] or "{}")
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
        credential_id=row["credential_id"],
        last_seen_at=_time(row["last_seen_at"]),
        online=None if row["online"] is None else bool(row["online"]),
        last_values={m: float(v) for m, (v, _) in values.items()},
        last_values_at={m: t for m, (_, at) in values.items() if (t := _time(at)) is not None},
        firmware_version=row["firmware_version"],
        battery=row["battery"],
        rssi=row["rssi"],
        telemetry_version=row["telemetry_version"] or 0,
        open_alerts=json.loads(row["open_alerts"] or "{}"),
    )
