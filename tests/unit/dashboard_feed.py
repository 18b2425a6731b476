"""Events as the dashboard projection receives them, built by a small fleet script: devices
registered, re-typed, decommissioned, online and offline, reporting firmware and readings;
alerts raised, acknowledged, escalated, resolved. Positions and stream versions are kept as the
store would number them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from event_store.envelope import EventEnvelope
from write_side.alerts import ALERT_ACKNOWLEDGED, ALERT_ESCALATED, ALERT_RAISED, ALERT_RESOLVED
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.event_names import EventName
from write_side.telemetry_log import (
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
)

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday: ISO week 2026-W49


class Feed:
    def __init__(self, tenant: str = "acme", start: datetime = T0) -> None:
        self.tenant = tenant
        self.now = start
        self.position = 0
        self.versions: defaultdict[str, int] = defaultdict(int)
        self.telemetry_streams: dict[uuid.UUID, uuid.UUID] = {}
        self.events: list[EventEnvelope] = []

    def tick(self, seconds: float) -> Feed:
        self.now += timedelta(seconds=seconds)
        return self

    def _event(self, name: EventName, stream: uuid.UUID, payload: dict[str, Any]) -> EventEnvelope:
        self.position += 1
        self.versions[stream.hex] += 1
        envelope = EventEnvelope(
            event_id=uuid.uuid4(),
            tenant_id=self.tenant,
            stream_id=str(stream),
            version=self.versions[stream.hex],
            type=name.type,
            schema_version=1,
            occurred_at=self.now,
            recorded_at=self.now,
            actor="user:test",
            correlation_id="c",
            causation_id=None,
            payload=payload,
            position=self.position,
        )
        self.events.append(envelope)
        return envelope

    def register(self, device: uuid.UUID, device_type: str = "sensor") -> None:
        payload = {"tenant_id": self.tenant, "name": "d", "device_type": device_type, "tags": []}
        self._event(DEVICE_REGISTERED, device, payload)

    def retype(self, device: uuid.UUID, device_type: str) -> None:
        self._event(DEVICE_UPDATED, device, {"device_type": device_type, "name": None})

    def decommission(self, device: uuid.UUID) -> None:
        self._event(DEVICE_DECOMMISSIONED, device, {"reason": None})

    def _telemetry(self, device: uuid.UUID) -> uuid.UUID:
        return self.telemetry_streams.setdefault(device, uuid.uuid4())

    def online(self, device: uuid.UUID) -> None:
        payload = {"device_id": str(device), "at": self.now.isoformat(), "offline_since": None}
        self._event(TELEMETRY_DEVICE_CAME_ONLINE, self._telemetry(device), payload)

    def offline(self, device: uuid.UUID) -> None:
        payload = {"device_id": str(device), "last_seen_at": self.now.isoformat()}
        self._event(TELEMETRY_DEVICE_WENT_OFFLINE, self._telemetry(device), payload)

    def batch(
        self, device: uuid.UUID, readings: int = 2, firmware: str | None = None, entries: int = 1
    ) -> None:
        rows = [
            {
                "message_id": uuid.uuid4().hex,
                "at": (self.now - timedelta(seconds=entries - i)).isoformat(),
                "metrics": {f"m{k}": float(k) for k in range(readings)},
                "status": {"firmware_version": firmware} if firmware else {},
            }
            for i in range(entries)
        ]
        payload = {
            "device_id": str(device),
            "entries": rows,
            "received_at": self.now.isoformat(),
            "transport": "http",
        }
        self._event(TELEMETRY_BATCH_RECORDED, self._telemetry(device), payload)

    def raise_alert(
        self, device: uuid.UUID, rule: uuid.UUID, severity: str = "warning"
    ) -> uuid.UUID:
        alert = uuid.uuid4()
        payload = {
            "tenant_id": self.tenant,
            "rule_id": str(rule),
            "rule_revision": 1,
            "device_id": str(device),
            "episode": 1,
            "severity": severity,
            "value": 1.0,
            "at": self.now.isoformat(),
            "peak_mode": "highest",
        }
        self._event(ALERT_RAISED, alert, payload)
        return alert

    def acknowledge(self, alert: uuid.UUID) -> None:
        payload = {"actor": "user:op", "note": None, "at": self.now.isoformat()}
        self._event(ALERT_ACKNOWLEDGED, alert, payload)

    def escalate(self, alert: uuid.UUID, severity: str) -> None:
        self._event(ALERT_ESCALATED, alert, {"severity": severity, "at": self.now.isoformat()})

    def resolve(self, alert: uuid.UUID) -> None:
        payload = {"actor": "user:op", "note": None, "at": self.now.isoformat(), "auto": False}
        self._event(ALERT_RESOLVED, alert, payload)
