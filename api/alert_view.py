"""The alert, its timeline entries and the alert rule as both API adapters show them: declared
once, here (issue 11, item 1), as `api.device_view` declares the device.

`AlertPublic`, `TimelineEntryPublic` and `AlertRulePublic` (with its parts) are the REST
response models (their OpenAPI components keep their names) and the GraphQL `Alert`,
`AlertTimelineEntry`, `AlertRule`, `RuleScope`, `Condition`, `Comparison` and
`AlertRuleRevision` types are derived from them (`api.graphql.derive`). The enums are the
GraphQL enums too, so both wires carry the same values; those of a rule's definition are the
domain's `Literal`s (`write_side.alert_rules`, tested). `position` is a `Long`: a feed position
outgrows GraphQL's 32-bit `Int` (REST sees a plain integer).

A rule's `definition` (and each revision's) is the domain's JSON as stored: REST spells its keys
in camelCase like the rest of its wire, GraphQL's `JSON` carries it as stored, as both always
did; only REST shows the current `definition` (GraphQL has the structured fields)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, PlainSerializer
from pydantic.alias_generators import to_camel

from api.device_view import Severity, View
from api.graphql.scalars import Long
from read_side.alerts import AlertRow, AlertRuleRow, TimelineEntry
from write_side.alert_rules import RuleDefinition


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


class ComparisonOperator(Enum):  # `write_side.alert_rules.Op` (tested)
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


class RateUnit(Enum):  # `RateOfChange.per` (tested)
    SECOND = "second"
    MINUTE = "minute"


class RateDirection(Enum):  # `RateOfChange.direction` (tested)
    RISING = "rising"
    FALLING = "falling"
    ANY = "any"


def camel_keys(value: Any) -> Any:
    """The domain's JSON with its keys as the REST wire spells them (`clear_condition` ->
    `clearCondition`, at every depth)."""
    if isinstance(value, dict):
        return {to_camel(k) if "_" in k else k: camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


# A rule definition as stored (snake_case keys); serialized (REST) with camelCase keys.
DefinitionJSON = Annotated[dict[str, Any], PlainSerializer(camel_keys, return_type=dict[str, Any])]


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


class RuleScopePublic(View):
    device_id: UUID | None = None
    tag: str | None = None
    device_type: str | None = None


class ComparisonPublic(View):
    op: ComparisonOperator
    value: float


class ConditionPublic(View):
    """Every kind's fields in one shape; those the kind lacks are null."""

    kind: ConditionKind
    metric: str | None = None
    op: ComparisonOperator | None = None
    value: float | None = None
    seconds: float | None = None
    rate: float | None = None
    per: RateUnit | None = None
    direction: RateDirection | None = None
    window_seconds: float | None = None


class RuleRevisionPublic(View):
    revision: int
    definition: DefinitionJSON
    revised_at: datetime
    revised_by: str


class AlertRulePublic(View):
    id: UUID
    name: str
    scope: RuleScopePublic
    severity: Severity
    condition: ConditionPublic
    clear_condition: ComparisonPublic | None
    hysteresis: float
    effective_clear: ComparisonPublic | None = Field(
        description="What clears the alert (given or derived); null for ABSENCE."
    )
    enabled: bool
    deleted: bool
    revision: int
    version: int = Field(description="The rule's version, for expectedVersion.")
    definition: DefinitionJSON  # REST only (`api.graphql.alert_types` omits it)
    created_at: datetime
    updated_at: datetime
    revisions: list[RuleRevisionPublic]

    @classmethod
    def from_row(cls, row: AlertRuleRow) -> AlertRulePublic:
        """The rule as shown, from a read-model row (or the row of a rule just saved): the one
        place a rule row becomes output. The structured fields are the stored definition's."""
        definition = RuleDefinition.model_validate(row.definition)
        clear, effective = definition.clear_condition, definition.clear_comparison
        data = {k: v for k, v in vars(row).items() if k not in ("tenant_id", "rule_id", "position")}
        return cls.model_validate(
            data
            | {
                "id": row.rule_id,
                "scope": definition.scope.model_dump(),
                "condition": definition.condition.model_dump(),
                "clear_condition": None if clear is None else clear.model_dump(),
                "hysteresis": definition.hysteresis,
                "effective_clear": None if effective is None else effective.model_dump(),
            }
        )
