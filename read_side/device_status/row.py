"""The device-status row: what a frontend lists and shows for each device. Its stored forms
derive from these fields (`read_side.device_status.columns`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from read_side.columns import EXACT_JSON, stored_with
from write_side.severity import severity_rank

__all__ = ["DeviceStatus", "Lifecycle"]

Lifecycle = Literal["active", "decommissioned"]


@dataclass(frozen=True)
class DeviceStatus:
    device_id: UUID
    tenant_id: str
    name: str
    device_type: str
    tags: tuple[str, ...]
    metadata: dict[str, str] = field(metadata={EXACT_JSON: True})  # free-form: big integers
    lifecycle: Lifecycle
    version: int
    registered_at: datetime
    updated_at: datetime
    decommissioned_at: datetime | None = None
    decommission_reason: str | None = None
    position: int = 0  # feed position of the last event applied to this row
    # Issue 4: credentials and telemetry (all optional, so rows built before them stay valid).
    credential_id: str | None = None  # public id of the current device credential
    last_seen_at: datetime | None = None  # server time of the last batch received
    online: bool | None = None  # None until the device first reports
    last_values: dict[str, float] = field(default_factory=dict)  # newest by device time
    # The device time of each, stored beside it (`{metric: [value, at]}`) as the first release did.
    last_values_at: dict[str, datetime] = field(
        default_factory=dict, metadata=stored_with("last_values")
    )
    firmware_version: str | None = None
    battery: float | None = None
    rssi: float | None = None
    telemetry_version: int = 0  # guard: the device's Telemetry stream version applied
    # Issue 4: open alerts, alert id (hex) -> severity; an alert is open until resolved.
    open_alerts: dict[str, str] = field(default_factory=dict)

    @property
    def open_alert_count(self) -> int:
        return len(self.open_alerts)

    @property
    def highest_open_severity(self) -> str | None:
        """The most severe of the open alerts' severities (None when none is open)."""
        return max(self.open_alerts.values(), key=severity_rank, default=None)
