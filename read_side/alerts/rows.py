"""The alert read models' rows: an alert rule (current revision, with its history), an alert
(current state), a timeline entry (one transition) and the device names alerts show; and
`time_key`, the sortable text form of a time their keys are built from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

__all__ = ["AlertRow", "AlertRuleRow", "DeviceName", "TimelineEntry", "time_key"]


def time_key(at: datetime) -> str:
    """A sortable, fixed-width UTC text form of a time. The year is padded here: `%Y` leaves
    years before 1000 short on Linux ("999-"), which sorted after "2026-" as a bound."""
    utc = at.astimezone(UTC)
    return f"{utc.year:04d}{utc.strftime('-%m-%dT%H:%M:%S.%fZ')}"


@dataclass(frozen=True)
class AlertRuleRow:
    tenant_id: str
    rule_id: UUID
    revision: int
    name: str
    severity: str
    enabled: bool
    deleted: bool
    definition: dict[str, Any]  # the current RuleDefinition as JSON values
    revisions: list[dict[str, Any]]  # {revision, definition, revised_at, revised_by}, oldest first
    version: int  # the aggregate's version (for expectedVersion)
    created_at: datetime
    updated_at: datetime
    position: int

    def definition_of(self, revision: int) -> dict[str, Any] | None:
        found = [r["definition"] for r in self.revisions if r["revision"] == revision]
        return found[0] if found else None


@dataclass(frozen=True)
class AlertRow:
    tenant_id: str
    alert_id: UUID
    rule_id: UUID
    rule_revision: int
    rule_name: str
    device_id: UUID
    device_name: str
    episode: int
    severity: str
    state: str  # open | acknowledged | resolved
    kind: str  # the rule's condition kind at its revision
    metric: str | None
    trigger_value: float | None
    threshold: float | None
    condition_text: str
    raised_at: datetime
    count: int
    last_value: float | None
    peak_value: float | None
    last_at: datetime
    version: int  # the alert's stream version (the row's guard)
    position: int
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_note: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None  # manual | auto | rule_deleted | rule_out_of_scope | ...
    resolve_note: str | None = None
    repeat_run: str | None = None  # timeline key of the current run of repeats

    @property
    def raised_key(self) -> str:
        return f"{time_key(self.raised_at)}#{self.alert_id.hex}"


@dataclass(frozen=True)
class TimelineEntry:
    """One transition; consecutive repeats of an alert are one entry (`count`, `last_at`)."""

    tenant_id: str
    key: str  # time_key(at) + "#" + feed position: unique, sortable
    event_id: UUID
    alert_id: UUID
    device_id: UUID
    rule_id: UUID
    severity: str
    transition: str
    state_after: str
    actor: str
    at: datetime  # when it happened: the reading's time, or the operator's action
    recorded_at: datetime  # when it was decided and recorded (the order of the timeline)
    position: int
    note: str | None = None
    value: float | None = None
    count: int = 1
    last_at: datetime | None = None


@dataclass(frozen=True)
class DeviceName:
    tenant_id: str
    device_id: UUID
    name: str
