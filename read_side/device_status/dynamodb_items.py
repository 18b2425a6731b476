"""Item codec of the device-status model on DynamoDB, shared by its writer and its reader
(`read_side.device_status.dynamodb`, which also defines the table)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from read_side.device_status.row import DeviceStatus


def to_item(status: DeviceStatus) -> dict[str, Any]:
    """The low-level (client) item for a row."""
    item: dict[str, Any] = {
        "tenant_id": {"S": status.tenant_id},
        "device_id": {"S": status.device_id.hex},
        "name": {"S": status.name},
        "name_lc": {"S": status.name.casefold()},
        "device_type": {"S": status.device_type},
        "lifecycle": {"S": status.lifecycle},
        "tags": {"L": [{"S": tag} for tag in status.tags]},
        "metadata": {"M": {key: {"S": value} for key, value in status.metadata.items()}},
        "version": {"N": str(status.version)},
        "registered_at": {"S": status.registered_at.isoformat()},
        "updated_at": {"S": status.updated_at.isoformat()},
        "position": {"N": str(status.position)},
    }
    if status.decommissioned_at is not None:
        item["decommissioned_at"] = {"S": status.decommissioned_at.isoformat()}
    if status.decommission_reason is not None:
        item["decommission_reason"] = {"S": status.decommission_reason}
    item.update(_telemetry_attributes(status))
    return item


def _telemetry_attributes(status: DeviceStatus) -> dict[str, Any]:
    """Issue 4 attributes (credential, connectivity, last values), present only when set."""
    item: dict[str, Any] = {"telemetry_version": {"N": str(status.telemetry_version)}}
    for key in ("credential_id", "firmware_version"):
        if (text := getattr(status, key)) is not None:
            item[key] = {"S": text}
    for key in ("battery", "rssi"):  # as text: ingestion accepts 1e-200, DynamoDB's N does not
        if (number := getattr(status, key)) is not None:
            item[key] = {"S": repr(float(number))}
    if status.last_seen_at is not None:
        item["last_seen_at"] = {"S": status.last_seen_at.isoformat()}
    if status.online is not None:
        item["online"] = {"BOOL": status.online}
    if status.last_values:
        item["last_values"] = {"S": json.dumps(_values_json(status))}
    if status.open_alerts:
        item["open_alerts"] = {"M": {a: {"S": s} for a, s in status.open_alerts.items()}}
    return item


def _values_json(status: DeviceStatus) -> dict[str, list[Any]]:
    times = status.last_values_at
    return {
        m: [v, times[m].isoformat() if m in times else None] for m, v in status.last_values.items()
    }


def _telemetry_fields(item: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, list[Any]] = json.loads(item.get("last_values", {}).get("S", "{}"))
    number = {  # S since 1e-200 was refused; items written before hold N
        key: float(item[key].get("S") or item[key]["N"])
        for key in ("battery", "rssi")
        if key in item
    }
    return {
        "credential_id": item.get("credential_id", {}).get("S"),
        "firmware_version": item.get("firmware_version", {}).get("S"),
        "last_seen_at": (
            datetime.fromisoformat(item["last_seen_at"]["S"]) if "last_seen_at" in item else None
        ),
        "online": item["online"]["BOOL"] if "online" in item else None,
        "last_values": {m: float(v) for m, (v, _) in values.items()},
        "last_values_at": {m: datetime.fromisoformat(at) for m, (_, at) in values.items() if at},
        "telemetry_version": int(item.get("telemetry_version", {}).get("N", "0")),
        "open_alerts": {a: s["S"] for a, s in item.get("open_alerts", {}).get("M", {}).items()},
        "battery": number.get("battery"),
        "rssi": number.get("rssi"),
    }


def from_item(item: dict[str, Any]) -> DeviceStatus:
    decommissioned_at = item.get("decommissioned_at")
    reason = item.get("decommission_reason")
    return DeviceStatus(
        device_id=UUID(hex=item["device_id"]["S"]),
        tenant_id=item["tenant_id"]["S"],
        name=item["name"]["S"],
        device_type=item["device_type"]["S"],
        tags=tuple(tag["S"] for tag in item["tags"]["L"]),
        metadata={key: value["S"] for key, value in item["metadata"]["M"].items()},
        lifecycle=item["lifecycle"]["S"],
        version=int(item["version"]["N"]),
        registered_at=datetime.fromisoformat(item["registered_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        decommissioned_at=(
            datetime.fromisoformat(decommissioned_at["S"]) if decommissioned_at else None
        ),
        decommission_reason=reason["S"] if reason else None,
        position=int(item["position"]["N"]),
        **_telemetry_fields(item),
    )
