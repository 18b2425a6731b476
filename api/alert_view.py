"""The alert and its timeline entries as both API adapters show them: declared once, here
(issue 11, item 1), as `api.device_view` declares the device.

`AlertPublic` and `TimelineEntryPublic` are the REST response models as they stand (their
OpenAPI components keep their names) and the GraphQL `Alert` and `AlertTimelineEntry` types are
derived from them (`api.graphql.derive`). The enums are the GraphQL enums too, so both wires
carry the same values. `position` is a `Long`: a feed position outgrows GraphQL's 32-bit `Int`
(REST sees a plain integer)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

from pydantic import Field

from api.device_view import Severity, View
from api.graphql.scalars import Long
from read_side.alerts import AlertRow, TimelineEntry


class AlertState(Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertResolution(Enum):
    MANUAL = "manual"
    AUTO = "auto"
    RULE_DELETED = "rule_deleted"
    RULE_DISABLED = "rule_disabled"
    RULE_OUT_OF_SCOPE = "rule_out_of_scope"
    DEVICE_DECOMMISSIONED = "device_decommissioned"


class AlertTransition(Enum):
    RAISED = "raised"
    REPEATED = "repeated"  # consecutive repeats are one entry (count, lastAt)
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ConditionKind(Enum):  # the kinds of `write_side.alert_rules` conditions (tested)
    THRESHOLD = "threshold"
    FOR_DURATION = "for_duration"
    ABSENCE = "absence"
    RATE_OF_CHANGE = "rate_of_change"


class TimelineEntryPublic(View):
    event_id: UUID
    alert_id: UUID
    device_id: UUID
    rule_id: UUID
    severity: Severity
    transition: AlertTransition
    state_after: AlertState
    actor: str
    note: str | None
    value: float | None
    count: int = Field(description="Repeats in this entry (1 for the others).")
    at: datetime = Field(description="When it happened (reading or action time).")
    last_at: datetime | None
    recorded_at: datetime = Field(description="When it was recorded (the timeline's order).")
    position: Long

    @classmethod
    def from_entry(cls, e: TimelineEntry) -> TimelineEntryPublic:
        """The entry as shown, from a read-model entry: the one place an entry becomes output."""
        data = {k: v for k, v in vars(e).items() if k not in ("tenant_id", "key")}
        return cls.model_validate(data)


class AlertPublic(View):
    id: UUID
    rule_id: UUID
    rule_revision: int
    rule_name: str
    device_id: UUID
    device_name: str
    episode: int
    severity: Severity
    state: AlertState
    kind: ConditionKind | None = Field(
        description="The rule's condition kind at the revision raised (null if unknown)."
    )
    metric: str | None
    trigger_value: float | None
    threshold: float | None
    condition_text: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: AlertResolution | None
    resolve_note: str | None
    count: int
    last_value: float | None
    peak_value: float | None
    last_at: datetime
    version: int
    timeline: list[TimelineEntryPublic] | None = Field(
        default=None, description="Every transition, oldest first (single alerts only)."
    )

    @classmethod
    def from_row(cls, row: AlertRow, timeline: list[TimelineEntry] | None = None) -> AlertPublic:
        """The alert as shown, from a read-model row (or one built from the aggregate a command
        saved, or from a change notice): the one place an alert row becomes output."""
        skip = ("tenant_id", "alert_id", "position", "repeat_run", "kind")
        data: dict[str, object] = {k: v for k, v in vars(row).items() if k not in skip}
        data["id"] = row.alert_id
        # A kind the rule's definition did not carry ("unknown") shows as none, on both wires.
        data["kind"] = row.kind if row.kind in ConditionKind._value2member_map_ else None
        if timeline is not None:
            data["timeline"] = [TimelineEntryPublic.from_entry(e) for e in timeline]
        return cls.model_validate(data)
