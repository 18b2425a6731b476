"""The device-status projection: folds Device and Telemetry events into one row per device.

`evolve` is pure (no I/O; `projections.device_status_evolve`); `DeviceStatusProjection` reads
the current row, evolves it and hands the new row plus the checkpoint to the view, which commits
both together. The row, the ports and the adapters that write and read the tables are the
package `read_side.device_status`; this glue stays here because it (like `evolve`) reads the
write side's event names from the aggregates' modules, which `read_side` must not import.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.device_status_evolve import evolve, evolve_alert, evolve_telemetry, status_to_json
from read_side.device_status.port import DeviceStatusReader, DeviceStatusView
from read_side.device_status.row import DeviceStatus
from read_side.notifications import ChangeNotice, LazyChangeNotice
from write_side.alerts import ALERT_ESCALATED, ALERT_RAISED, ALERT_RESOLVED, Alert
from write_side.devices import (
    Device,
)
from write_side.event_names import topic_prefix, topics, type_prefix, types
from write_side.telemetry_log import (
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
    Telemetry,
)
from write_side.uuids import parse_uuid

DEVICE_TOPIC_PREFIX = topic_prefix(Device)
TELEMETRY_TOPIC_PREFIX = topic_prefix(Telemetry)
# Only the alert events that open, re-grade or close an alert change a device's row.
ALERT_TOPICS = topics((ALERT_RAISED, ALERT_ESCALATED, ALERT_RESOLVED))
# Of the Telemetry stream's events, these change a row (`Opened` does not).
TELEMETRY_TOPICS = topics(
    (TELEMETRY_BATCH_RECORDED, TELEMETRY_DEVICE_CAME_ONLINE, TELEMETRY_DEVICE_WENT_OFFLINE)
)
ROW_TOPICS = TELEMETRY_TOPICS | ALERT_TOPICS
_DEVICE, _TELEMETRY, _ALERT = type_prefix(Device), type_prefix(Telemetry), type_prefix(Alert)


class DeviceStatusProjection:
    """Device events keep the row's registry fields (guard: `version`); the device's
    `Telemetry` events keep its connectivity and last values (guard: `telemetry_version`).
    `process_batch` folds many events into one write of the changed rows."""

    name = "device_status"
    notices = True  # False: build no change notices (a replay into scratch publishes none)

    def __init__(self, view: DeviceStatusView, reader: DeviceStatusReader) -> None:
        self.view = view
        self.reader = reader

    def handles(self, topic: str) -> bool:
        return topic.startswith(DEVICE_TOPIC_PREFIX) or topic in ROW_TOPICS

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """Apply the events in order, then save the changed rows with `tracking` (nothing is
        written when nothing changed); one notice per changed row."""
        rows: dict[tuple[str, UUID], DeviceStatus | None] = {}
        changed: dict[tuple[str, UUID], str] = {}
        registry: dict[tuple[str, UUID], str] = {}  # rows a Device event changed: its type
        alerts = self._alert_devices(envelopes)
        links: dict[tuple[str, str], UUID | None] = {}
        targets = [_device_id(envelope, alerts) for envelope in envelopes]
        rows.update(self._read_rows(envelopes, targets))
        for envelope, target in zip(envelopes, targets, strict=True):
            # An escalation or resolution may concern an alert raised earlier in this batch.
            device_id = (
                _device_id(envelope, alerts) if envelope.type in _LINKED_ALERT_TOPICS else target
            )
            if device_id is None:
                continue  # an alert this model never saw open
            key = (envelope.tenant_id, device_id)
            if key not in rows:
                rows[key] = self.reader.get(*key)
            new = _apply(rows[key], envelope)
            if new is not None:
                rows[key] = new
                changed[key] = envelope.type
                if envelope.type.startswith(_DEVICE):
                    registry[key] = envelope.type
                if envelope.type.startswith(_ALERT):
                    link = (envelope.tenant_id, UUID(envelope.stream_id).hex)
                    is_open = link[1] in new.open_alerts
                    alerts[link] = links[link] = device_id if is_open else None
        if not changed:
            return []
        saved = [row for key in changed if (row := rows[key]) is not None]
        self.view.save_many(saved, tracking, alert_links=links)
        if not self.notices:
            return []
        keys = [(row.tenant_id, row.device_id) for row in saved]
        return [
            notice
            for row, key in zip(saved, keys, strict=True)
            for notice in _notices(row, changed[key], registry.get(key))
        ]

    def _read_rows(
        self, envelopes: Sequence[EventEnvelope], targets: Sequence[UUID | None]
    ) -> dict[tuple[str, UUID], DeviceStatus | None]:
        """The current rows of every device the batch touches: one read per tenant (None for
        a device without a row yet)."""
        wanted: dict[str, dict[UUID, None]] = {}
        for envelope, device_id in zip(envelopes, targets, strict=True):
            if device_id is not None:
                wanted.setdefault(envelope.tenant_id, {})[device_id] = None
        rows: dict[tuple[str, UUID], DeviceStatus | None] = {}
        for tenant, devices in wanted.items():
            found = self.reader.get_many(tenant, list(devices))
            rows.update(((tenant, device_id), found.get(device_id)) for device_id in devices)
        return rows

    def _alert_devices(
        self, envelopes: Sequence[EventEnvelope]
    ) -> dict[tuple[str, str], UUID | None]:
        """The devices of the alerts the batch escalates or resolves (one read per tenant)."""
        wanted: dict[str, list[str]] = {}
        for e in envelopes:
            if e.type in _LINKED_ALERT_TOPICS:
                wanted.setdefault(e.tenant_id, []).append(UUID(e.stream_id).hex)
        return {
            (tenant, alert): device
            for tenant, ids in wanted.items()
            for alert, device in self.view.alert_devices(tenant, ids).items()
        }


# The alert events whose device is known only through the alert (its id -> device link).
_LINKED_ALERT_TOPICS = types((ALERT_ESCALATED, ALERT_RESOLVED))


def _device_id(
    envelope: EventEnvelope, alerts: Mapping[tuple[str, str], UUID | None]
) -> UUID | None:
    if envelope.type.startswith(_TELEMETRY) or envelope.type == ALERT_RAISED.type:
        return parse_uuid(str(envelope.payload["device_id"]))
    if envelope.type.startswith(_ALERT):
        return alerts.get((envelope.tenant_id, UUID(envelope.stream_id).hex))
    return UUID(envelope.stream_id)


def _apply(current: DeviceStatus | None, envelope: EventEnvelope) -> DeviceStatus | None:
    if envelope.type.startswith(_TELEMETRY):
        return None if current is None else evolve_telemetry(current, envelope)
    if envelope.type.startswith(_ALERT):
        return None if current is None else evolve_alert(current, envelope)
    if current is not None and current.version >= envelope.version:
        return None  # already applied (the checkpoint lagged the row): nothing to do
    return evolve(current, envelope)


def _notices(row: DeviceStatus, event_type: str, registry_type: str | None) -> list[ChangeNotice]:
    """Every row change goes to the `device_status` topic (`deviceStatusChanged`, with the last
    event type); a change by Device events also to `device` (`deviceChanged`)."""
    data = functools.cache(functools.partial(status_to_json, row))  # one body, if any is read
    topics = [("device_status", event_type)]
    if registry_type is not None:
        topics.insert(0, ("device", registry_type))
    key = str(row.device_id)
    return [
        LazyChangeNotice(row.tenant_id, topic, key, row.position, kind, data)
        for topic, kind in topics
    ]
