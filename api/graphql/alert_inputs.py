"""GraphQL input types of the alerts slice; each turns into the plain values the write side and
the readers take (a rule definition as the domain's JSON, filters as `read_side.alerts` ones).

The rule inputs are spelled out rather than derived from `write_side.alert_rules.RuleDefinition`
(GraphQL has no input unions: the conditions are one flat input; the `Literal`s are named enums):
their defaults are read from the domain's models, and `tests/unit/test_alert_rule_inputs.py`
checks them field by field against the definition and the commands, so the two cannot drift."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api.alert_view import (
    AlertState,
    AlertTransition,
    ComparisonOperator,
    ConditionKind,
    RateDirection,
    RateUnit,
)
from api.alerts import parse_id
from api.device_view import Severity
from api.graphql.derive import graphql_enum
from read_side.alerts import AlertFilter, RuleFilter, TimelineFilter
from write_side.alert_rules import RateOfChange, RuleDefinition

# Registered here too: the inputs may be imported before the output types that register them.
ENUMS = (AlertState, AlertTransition, ComparisonOperator, ConditionKind, RateDirection, RateUnit)
for _enum in ENUMS:
    graphql_enum(_enum)


def plain(value: Any) -> Any:
    """An input as the domain's JSON: its fields given (not null), enums as their values."""
    if dataclasses.is_dataclass(value):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: plain(v) for name, v in fields if v is not None}
    return value.value if isinstance(value, Enum) else value


@strawberry.input
class RuleScopeInput:
    device_id: strawberry.ID | None = None
    tag: str | None = None
    device_type: str | None = None


@strawberry.input
class ComparisonInput:
    op: ComparisonOperator
    value: float


@strawberry.input
class ConditionInput:
    kind: ConditionKind
    metric: str | None = None
    op: ComparisonOperator | None = None
    value: float | None = None
    seconds: float | None = None
    rate: float | None = None
    per: RateUnit = RateUnit(RateOfChange.model_fields["per"].default)
    direction: RateDirection = RateDirection(RateOfChange.model_fields["direction"].default)
    window_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """`per` and `direction` (never null, they have defaults) only for the kind they are of."""
        data: dict[str, Any] = plain(self)
        if self.kind is not ConditionKind.RATE_OF_CHANGE:
            del data["per"], data["direction"]
        return data


@strawberry.input
class AlertRuleDefinitionInput:
    name: str
    scope: RuleScopeInput
    severity: Severity
    condition: ConditionInput
    clear_condition: ComparisonInput | None = None
    hysteresis: float = RuleDefinition.model_fields["hysteresis"].default
    enabled: bool = RuleDefinition.model_fields["enabled"].default

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = plain(self)
        return data | {"condition": self.condition.to_dict()}


@strawberry.input
class CreateAlertRuleInput:
    definition: AlertRuleDefinitionInput


@strawberry.input
class ReviseAlertRuleInput:
    id: strawberry.ID
    definition: AlertRuleDefinitionInput
    expected_version: int | None = None


@strawberry.input
class DeleteAlertRuleInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class AcknowledgeAlertInput:
    id: strawberry.ID
    note: str | None = None
    expected_version: int | None = None


@strawberry.input
class ResolveAlertInput:
    id: strawberry.ID
    note: str | None = None
    expected_version: int | None = None


@strawberry.input(name="AlertRuleFilter")
class AlertRuleFilterInput:
    enabled: bool | None = None
    severity: Severity | None = None
    include_deleted: bool = False

    def to_filter(self) -> RuleFilter:
        severity = None if self.severity is None else self.severity.value
        return RuleFilter(self.include_deleted, self.enabled, severity)


@strawberry.input(name="AlertFilter")
class AlertFilterInput:
    severities: list[Severity] | None = None
    states: list[AlertState] | None = None
    rule_id: strawberry.ID | None = None
    device_id: strawberry.ID | None = None
    raised_from: datetime | None = None
    raised_to: datetime | None = None

    def to_filter(self) -> AlertFilter:
        return AlertFilter(
            severities=frozenset(s.value for s in self.severities or ()),
            states=frozenset(s.value for s in self.states or ()),
            rule_id=None if self.rule_id is None else parse_id(self.rule_id, "filter.ruleId"),
            device_id=None
            if self.device_id is None
            else parse_id(self.device_id, "filter.deviceId"),
            raised_from=self.raised_from,
            raised_to=self.raised_to,
        )


@strawberry.input(name="AlertTimelineFilter")
class AlertTimelineFilterInput:
    device_id: strawberry.ID | None = None
    alert_id: strawberry.ID | None = None
    rule_id: strawberry.ID | None = None
    severities: list[Severity] | None = None
    transitions: list[AlertTransition] | None = None
    states: list[AlertState] | None = None
    start: datetime | None = strawberry.field(
        default=None, name="from", description="Recorded at or after (inclusive)."
    )
    end: datetime | None = strawberry.field(
        default=None, name="to", description="Recorded at or before (inclusive)."
    )

    def to_filter(self, newest_first: bool) -> TimelineFilter:
        def uid(value: strawberry.ID | None, field: str) -> Any:
            return None if value is None else parse_id(value, f"filter.{field}")

        return TimelineFilter(
            device_id=uid(self.device_id, "deviceId"),
            alert_id=uid(self.alert_id, "alertId"),
            rule_id=uid(self.rule_id, "ruleId"),
            severities=frozenset(s.value for s in self.severities or ()),
            transitions=frozenset(t.value for t in self.transitions or ()),
            states=frozenset(s.value for s in self.states or ()),
            start=self.start,
            end=self.end,
            newest_first=newest_first,
        )
