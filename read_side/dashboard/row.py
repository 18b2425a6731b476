"""The dashboard model's rows (docs/analytics.md 20.1): what the projection must remember of
each device and each alert to move the figures exactly once, and the figures themselves.

A figure is one number per tenant under a key (`read_side.dashboard.keys`): a counter the
projection adds deltas to, or a sum of seconds. The per-device and per-alert rows hold the
previous value of everything a figure is keyed by (status, type, firmware version, severity,
acknowledgement), so a device moving from one value to another moves two counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

__all__ = ["AlertFacts", "DashboardCommit", "DeviceFacts", "Top"]

Top = tuple[tuple[str, int], ...]  # (id, count), highest count first, at most `TOP_N`


@dataclass(frozen=True)
class DeviceFacts:
    tenant_id: str
    device_id: UUID
    device_type: str
    lifecycle: str  # active | decommissioned
    online: bool | None  # None until the device first reports
    firmware_version: str | None
    firmware_at: datetime | None  # device time of the report the version came from
    version: int  # the Device stream's version absorbed (guard)
    telemetry_version: int = 0  # the device's Telemetry stream version absorbed (guard)


@dataclass(frozen=True)
class AlertFacts:
    tenant_id: str
    alert_id: UUID
    rule_id: str
    device_id: str
    severity: str
    state: str  # open | acknowledged | resolved
    raised_at: datetime  # server time of `Alert.Raised`
    version: int  # the Alert stream's version absorbed (guard)
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class DashboardCommit:
    """One transaction of the view: changed rows, figure deltas, replaced top-N lists and the
    checkpoint, which must move from `after` (the position this commit continues from: the
    compare-and-set that keeps non-idempotent deltas exactly once)."""

    tracking: Tracking
    after: int | None
    devices: tuple[DeviceFacts, ...] = ()
    alerts: tuple[AlertFacts, ...] = ()
    deltas: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (tenant, key)
    tops: Mapping[tuple[str, str], Top] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return len(self.devices) + len(self.alerts) + len(self.deltas) + len(self.tops)
