"""Row codec for the device-status model, shared by its SQLite writer and reader.

JSON columns are written and read with orjson (a row is rewritten for every event of its device:
at one message per event the stdlib codec was a sixth of the projection's time), except where
free-form metadata may hold an integer beyond 64 bits: orjson refuses to write one (the stdlib
encoder then does) and reads one as a float, so metadata is read by the stdlib.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from read_side.device_status.row import DeviceStatus

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
        _dumps(list(status.tags)),
        _dumps(status.metadata, sort_keys=True),
        status.version,
        status.registered_at.isoformat(),
        status.updated_at.isoformat(),
        status.decommissioned_at.isoformat() if status.decommissioned_at else None,
        status.decommission_reason,
        status.position,
        status.credential_id,
        _iso(status.last_seen_at),
        None if status.online is None else int(status.online),
        _dumps({m: [v, _iso(status.last_values_at.get(m))] for m, v in status.last_values.items()}),
        status.firmware_version,
        status.battery,
        status.rssi,
        status.telemetry_version,
        _dumps(status.open_alerts, sort_keys=True),
    )


def _dumps(value: Any, sort_keys: bool = False) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None).decode()
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        return json.dumps(value, sort_keys=sort_keys)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def from_row(row: Any) -> DeviceStatus:
    """A DeviceStatus from a row indexable by column name (sqlite3.Row)."""
    values: dict[str, list[Any]] = orjson.loads(row["last_values"] or "{}")
    return DeviceStatus(
        device_id=UUID(hex=row["device_id"]),
        tenant_id=row["tenant_id"],
        name=row["name"],
        device_type=row["device_type"],
        tags=tuple(orjson.loads(row["tags"])),
        metadata=json.loads(row["metadata"]),  # free-form: orjson reads big integers as floats
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
        open_alerts=orjson.loads(row["open_alerts"] or "{}"),
    )
