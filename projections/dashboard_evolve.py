"""The dashboard projection's pure part (docs/analytics.md 20.1): what one event does to a
device's or an alert's remembered facts, and which figures that moves.

A figure that counts devices or open alerts is moved by comparing the keys the row counted
under before and after the event (`moved`): a device going from firmware 1.0 to 1.1 is -1 on
`fleet#firmware#1.0` and +1 on `fleet#firmware#1.1`. Each row keeps its streams' versions and
skips what it has absorbed, so the same event never moves a figure twice. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from event_store.envelope import EventEnvelope
from read_side.dashboard import keys
from read_side.dashboard.keys import TOP_N
from read_side.dashboard.row import AlertFacts, DeviceFacts, Top
from write_side.alerts import ALERT_ACKNOWLEDGED, ALERT_ESCALATED, ALERT_RAISED, ALERT_RESOLVED
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.telemetry_log import (
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
)
from write_side.uuids import parse_uuid


def evolve_device(current: DeviceFacts | None, envelope: EventEnvelope) -> DeviceFacts | None:
    """The device's facts after one of its Device events; None when nothing changes."""
    payload, kind = envelope.payload, envelope.type
    if kind == DEVICE_REGISTERED.type:
        if current is not None:
            return None  # absorbed already
        return DeviceFacts(
            tenant_id=envelope.tenant_id,
            device_id=UUID(envelope.stream_id),
            device_type=str(payload["device_type"]),
            lifecycle="active",
            online=None,
            firmware_version=None,
            firmware_at=None,
            version=envelope.version,
        )
    if current is None or envelope.version <= current.version:
        return None
    if kind == DEVICE_UPDATED.type and payload.get("device_type") is not None:
        return replace(current, device_type=str(payload["device_type"]), version=envelope.version)
    if kind == DEVICE_DECOMMISSIONED.type:
        return replace(current, lifecycle="decommissioned", version=envelope.version)
    return None  # credentials, names, tags: no figure depends on them


def evolve_connectivity(current: DeviceFacts, envelope: EventEnvelope) -> DeviceFacts | None:
    """The device's facts after one of its Telemetry events (guard: `telemetry_version`)."""
    if envelope.version <= current.telemetry_version:
        return None
    kind = envelope.type
    if kind == TELEMETRY_DEVICE_CAME_ONLINE.type and current.online is not True:
        return replace(current, online=True, telemetry_version=envelope.version)
    if kind == TELEMETRY_DEVICE_WENT_OFFLINE.type and current.online is not False:
        return replace(current, online=False, telemetry_version=envelope.version)
    if kind != TELEMETRY_BATCH_RECORDED.type:
        return None
    reported = [
        (_time(entry["at"]), str(entry["status"]["firmware_version"]))
        for entry in envelope.payload["entries"]
        if (entry.get("status") or {}).get("firmware_version")
    ]
    if not reported:
        return None
    at, version = max(reported)
    if current.firmware_at is not None and at < current.firmware_at:
        return None  # an older report than the one the version came from
    if version == current.firmware_version and at == current.firmware_at:
        return None
    return replace(
        current, firmware_version=version, firmware_at=at, telemetry_version=envelope.version
    )


def evolve_alert(current: AlertFacts | None, envelope: EventEnvelope) -> AlertFacts | None:
    """The alert's facts after one of its events; None when nothing changes."""
    payload, kind = envelope.payload, envelope.type
    if kind == ALERT_RAISED.type:
        if current is not None:
            return None
        return AlertFacts(
            tenant_id=envelope.tenant_id,
            alert_id=UUID(envelope.stream_id),
            rule_id=str(payload["rule_id"]),
            device_id=str(parse_uuid(str(payload["device_id"]))),
            severity=str(payload["severity"]),
            state="open",
            raised_at=envelope.occurred_at,
            version=envelope.version,
        )
    if current is None or envelope.version <= current.version or current.state == "resolved":
        return None
    at, version = envelope.occurred_at, envelope.version
    if kind == ALERT_ACKNOWLEDGED.type and current.state == "open":
        return replace(current, state="acknowledged", acknowledged_at=at, version=version)
    if kind == ALERT_RESOLVED.type:
        return replace(current, state="resolved", version=version)
    if kind == ALERT_ESCALATED.type:
        return replace(current, severity=str(payload["severity"]), version=version)
    return None


def device_keys(row: DeviceFacts | None) -> set[str]:
    """The counters a device counts in: its status, and while active its type and firmware."""
    if row is None:
        return set()
    if row.lifecycle != "active":
        return {keys.fleet("status", row.lifecycle)}
    status = "unknown" if row.online is None else "online" if row.online else "offline"
    return {
        keys.fleet("status", status),
        keys.fleet("type", row.device_type),
        keys.fleet("firmware", row.firmware_version or "unknown"),
    }


def alert_keys(row: AlertFacts | None) -> set[str]:
    """An open (or acknowledged) alert counts under its severity; a resolved one nowhere."""
    if row is None or row.state == "resolved":
        return set()
    return {keys.fleet("alerts", row.severity)}


def moved(before: Iterable[str], after: Iterable[str]) -> dict[str, float]:
    """-1 for each key only `before` counts under, +1 for each only `after` does."""
    old, new = set(before), set(after)
    return {**dict.fromkeys(old - new, -1.0), **dict.fromkeys(new - old, 1.0)}


def durations(old: AlertFacts, new: AlertFacts, at: datetime) -> dict[str, float]:
    """The time-to-acknowledge or time-to-resolve an alert's change at `at` completes, as
    count and whole milliseconds under its rule and the ISO week of `at`. Whole numbers add up
    exactly in a float (below 2**53), so a sum does not depend on how commits batched the
    events: a replay gives the same figure (docs/audit.md 19.6 found seconds did not)."""
    week, rule = keys.week_of(at), new.rule_id
    millis = float(round((at - new.raised_at) / timedelta(milliseconds=1)))
    if old.state == "open" and new.state == "acknowledged":
        return {keys.mtt(week, rule, "ack_n"): 1.0, keys.mtt(week, rule, "ack_ms"): millis}
    if new.state == "resolved" and old.state != "resolved":
        return {keys.mtt(week, rule, "res_n"): 1.0, keys.mtt(week, rule, "res_ms"): millis}
    return {}


def ingested(envelope: EventEnvelope) -> dict[str, float]:
    """Messages and readings of a `Telemetry.BatchRecorded`, under its server minute."""
    entries = envelope.payload["entries"]
    minute = keys.minute_of(_time(envelope.payload["received_at"]))
    readings = sum(len(entry["metrics"]) for entry in entries)
    return {keys.ingest(minute, "m"): float(len(entries)), keys.ingest(minute, "r"): readings}


def bump(top: Top, entity: str, count: int, size: int = TOP_N) -> Top:
    """The top-`size` list after `entity`'s count grew to `count`. Exact because counts only
    grow: the one entity that changed either was listed, or enters by passing the smallest
    listed count (a tie with it does not enter)."""
    entries = dict(top)
    if entity in entries or len(entries) < size or count > min(entries.values()):
        entries[entity] = count
        return tuple(sorted(entries.items(), key=lambda e: (-e[1], e[0]))[:size])
    return top


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
