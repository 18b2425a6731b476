"""The device-status projection's pure part: a row and one event in, the new row out.

Apart from `projections.device_status` (the projection's batching, the alert -> device links it
needs, its change notices and the view port it commits through) because this is the whole
meaning of the Device, Telemetry and alert events for a device's row, with no reader, no view
and no I/O. Each stream keeps its own guard on the row: Device events `version` (checked by the
projection before `evolve`), the device's `Telemetry` events `telemetry_version`.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventEnvelope
from read_side.device_status.columns import STATUS_JSON
from read_side.device_status.row import DeviceStatus
from write_side.alerts import ALERT_ESCALATED, ALERT_RAISED, ALERT_RESOLVED
from write_side.devices import (
    DEVICE_CREDENTIAL_ISSUED,
    DEVICE_CREDENTIAL_REVOKED,
    DEVICE_DECOMMISSIONED,
    DEVICE_REGISTERED,
    DEVICE_UPDATED,
)
from write_side.telemetry_log import (
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
)


def evolve(current: DeviceStatus | None, envelope: EventEnvelope) -> DeviceStatus | None:
    """The row after `envelope`; None when the event does not concern this model."""
    payload = envelope.payload
    common: dict[str, Any] = {
        "version": envelope.version,
        "updated_at": envelope.occurred_at,
        "position": envelope.position or 0,
    }
    if envelope.type == DEVICE_REGISTERED.type:
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
    if envelope.type == DEVICE_UPDATED.type:
        changes = {
            key: payload[key]
            for key in ("name", "device_type", "metadata")
            if payload.get(key) is not None
        }
        if payload.get("tags") is not None:
            changes["tags"] = tuple(payload["tags"])
        return _replace(current, **changes, **common)
    if envelope.type == DEVICE_CREDENTIAL_ISSUED.type:
        return _replace(current, credential_id=str(payload["credential_id"]), **common)
    if envelope.type == DEVICE_CREDENTIAL_REVOKED.type:
        return _replace(current, credential_id=None, **common)
    if envelope.type == DEVICE_DECOMMISSIONED.type:
        return _replace(
            current,
            lifecycle="decommissioned",
            decommissioned_at=envelope.occurred_at,
            decommission_reason=payload.get("reason"),
            **common,
        )
    return None


def evolve_telemetry(current: DeviceStatus, envelope: EventEnvelope) -> DeviceStatus | None:
    """The row after a `Telemetry.*` event of its device; None when already applied (the row's
    `telemetry_version` guard) or irrelevant. Last values are the newest by device time, so
    out-of-order messages never overwrite newer readings."""
    if envelope.version <= current.telemetry_version:
        return None
    payload, kind = envelope.payload, envelope.type
    common: dict[str, Any] = {
        "telemetry_version": envelope.version,
        "position": envelope.position or current.position,
    }
    if kind == TELEMETRY_DEVICE_CAME_ONLINE.type:
        return _replace(current, online=True, **common)
    if kind == TELEMETRY_DEVICE_WENT_OFFLINE.type:
        return _replace(current, online=False, **common)
    if kind != TELEMETRY_BATCH_RECORDED.type:
        return _replace(current, **common)
    received_at = _time(payload["received_at"])
    values, times = dict(current.last_values), dict(current.last_values_at)
    newest = max(times.values(), default=None)
    status: dict[str, Any] = {}
    for entry in sorted(payload["entries"], key=lambda e: str(e["at"])):
        at = _time(entry["at"])
        for metric, value in entry["metrics"].items():
            if metric not in times or at >= times[metric]:
                values[metric], times[metric] = float(value), at
        if entry.get("status") and (newest is None or at >= newest):
            status.update(entry["status"])
    seen = current.last_seen_at
    return _replace(
        current,
        last_seen_at=received_at if seen is None or received_at > seen else seen,
        last_values=values,
        last_values_at=times,
        **{k: v for k, v in status.items() if k in _STATUS_FIELDS},
        **common,
    )


_STATUS_FIELDS = frozenset({"firmware_version", "battery", "rssi"})


def evolve_alert(current: DeviceStatus, envelope: EventEnvelope) -> DeviceStatus | None:
    """The row after an `Alert.Raised/Escalated/Resolved` of its device; None when nothing
    changes (or the row already absorbed that feed position). An alert is open until it is
    resolved; the count and the highest severity derive from `open_alerts`."""
    if envelope.position is not None and envelope.position <= current.position:
        return None
    alert_id = UUID(envelope.stream_id).hex
    alerts = dict(current.open_alerts)
    if envelope.type == ALERT_RAISED.type or (
        envelope.type == ALERT_ESCALATED.type and alert_id in alerts
    ):
        alerts[alert_id] = str(envelope.payload["severity"])
    elif envelope.type == ALERT_RESOLVED.type:
        alerts.pop(alert_id, None)
    if alerts == current.open_alerts:
        return None
    return _replace(current, open_alerts=alerts, position=envelope.position or current.position)


_FIELDS = frozenset(f.name for f in fields(DeviceStatus))


def _replace(row: DeviceStatus, **changes: Any) -> DeviceStatus:
    """`dataclasses.replace(row, **changes)` without running the frozen `__init__` again: every
    telemetry event makes a new row, and `replace` cost as much as the rest of `evolve_telemetry`
    together (it sets all 23 fields one by one through `object.__setattr__`). The rows are
    immutable values, so sharing the unchanged fields' objects is what `replace` does too."""
    if not changes.keys() <= _FIELDS:
        raise TypeError(f"DeviceStatus has no field {sorted(changes.keys() - _FIELDS)}")
    new = object.__new__(DeviceStatus)
    state = new.__dict__
    state.update(row.__dict__)
    state.update(changes)
    return new


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def status_to_json(status: DeviceStatus) -> dict[str, Any]:
    """A JSON-ready dict of the row (used for change notices): every field, by its type."""
    return STATUS_JSON.to_json(status)
