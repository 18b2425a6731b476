"""GraphQL input types of the alerts slice; each turns into the plain values the write side and
the readers take (a rule definition as the domain's JSON, filters as `read_side.alerts` ones).

The rule inputs are spelled out rather than derived from `write_side.alert_rules.RuleDefinition`
(GraphQL has no input unions: the conditions are one flat input; the `Literal`s are named enums):
their defaults are read from the domain's models, and `tests/unit/test_alert_rule_inputs.py`
checks them field by field against the definition and the commands, so the two cannot drift."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import strawberry
from pydantic.alias_generators import to_camel

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
from write_side.alert_rules import RateOfChange, RuleDefinition

# Registered here too: the inputs may be imported before the output types that register them.
ENUMS = (AlertState, AlertTransition, ComparisonOperator, ConditionKind, RateDirection, RateUnit)
for _enum in ENUMS:
    graphql_enum(_enum)


F = TypeVar("F")


def plain(value: Any) -> Any:
    """An input as the domain's JSON: its fields given (not null), enums as their values."""
    if dataclasses.is_dataclass(value):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: plain(v) for name, v in fields if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
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

    def command_fields(self) -> dict[str, object]:
        """The fields of the command (`AcknowledgeAlert`, `ResolveAlert`): `id` is `alert_id`."""
        fields = {"note": self.note, "expected_version": self.expected_version}
        return fields | {"alert_id": parse_id(self.id, "id")}


@strawberry.input
class ResolveAlertInput(AcknowledgeAlertInput):  # the same fields
    pass


@strawberry.input(name="AlertRuleFilter")
class AlertRuleFilterInput:
    enabled: bool | None = None
    severity: Severity | None = None
    include_deleted: bool = False


@strawberry.input(name="AlertFilter")
class AlertFilterInput:
    severities: list[Severity] | None = None
    states: list[AlertState] | None = None
    rule_id: strawberry.ID | None = None
    device_id: strawberry.ID | None = None
    raised_from: datetime | None = None
    raised_to: datetime | None = None


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


def criteria(given: object | None, filter_class: Callable[..., F], **more: object) -> F:
    """The read model's filter (`RuleFilter`, `AlertFilter`, `TimelineFilter`) from a filter
    input, whose fields are the filter's by name (tested): ids parsed (`filter.ruleId` at fault),
    enums as their values, lists as sets; a field not given keeps the filter's default."""
    values: dict[str, Any] = {}
    for name, value in plain(given or {}).items():
        if name.endswith("_id"):
            values[name] = parse_id(value, f"filter.{to_camel(name)}")
        else:
            values[name] = frozenset(value) if isinstance(value, list) else value
    return filter_class(**values, **more)
