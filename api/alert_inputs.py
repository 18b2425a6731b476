"""The alert inputs as both API adapters take them: declared once, here (issue 11, item 1), as
`api.device_view` declares a device's.

Each shape is a REST body or query and the one definition its GraphQL input is derived from
(`api.graphql.alert_inputs`): `RuleDefinitionBody` with its parts (the scope, comparison and
condition as shown, `api.alert_view`, taken in), `RuleCreate`, `RuleRevise`, `RuleDelete`,
`AlertAction`, and the filters `RuleQuery`, `AlertQuery` and `TimelineQuery`, whose fields are
the read model's filters' by name (`criteria`). A filter's REST parameter may have a name of its
own (`validation_alias`: the repeatable `severity` is GraphQL's `severities`).

GraphQL has no input unions, so a condition is one flat shape with every kind's fields, the
domain's `Literal`s are named enums, and the domain (`write_side.alert_rules.RuleDefinition`)
checks what it is given: `checked` passes it the fields given only (REST: those sent, in any
spelling whose snake_case is a field's, as REST always took; GraphQL: those not at their
default), so both adapters take and refuse the same definitions and name a field at fault the
same way (`condition.seconds`). `tests/unit/test_alert_rule_inputs.py` checks the shapes field
by field against the domain's definition, commands and filters, so the two cannot drift."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt, model_validator
from pydantic.alias_generators import to_camel, to_snake

from api.alert_view import (
    AlertState,
    AlertTransition,
    ComparisonPublic,
    ConditionKind,
    ConditionPublic,
    RateDirection,
    RateUnit,
    RuleScopePublic,
    camel_keys,
)
from api.device_view import Severity
from api.inputs import Input, dotted
from read_side.alerts import AlertFilter, RuleFilter, TimelineFilter
from write_side.alert_rules import RateOfChange, RuleDefinition, parse_rule_definition
from write_side.alerts import MAX_NOTE
from write_side.errors import InvalidInput

F = TypeVar("F")
KINDS = frozenset(kind.value for kind in ConditionKind)  # the domain's (tested)
REPEATABLE = "Repeatable."  # REST's note on a list parameter (GraphQL's lists need none)
_RATE = RateOfChange.model_fields


class RuleScopeBody(Input, RuleScopePublic):
    pass


class ComparisonBody(Input, ComparisonPublic):
    pass


class ConditionBody(Input, ConditionPublic):
    per: RateUnit = RateUnit(_RATE["per"].default)
    direction: RateDirection = RateDirection(_RATE["direction"].default)


class RuleDefinitionBody(Input):
    """A rule's definition (REST: the body of `POST /alert-rules`)."""

    name: str
    scope: RuleScopeBody
    severity: Severity
    condition: ConditionBody
    clear_condition: ComparisonBody | None = None
    hysteresis: float = RuleDefinition.model_fields["hysteresis"].default
    enabled: bool = RuleDefinition.model_fields["enabled"].default

    @model_validator(mode="before")
    @classmethod
    def _wire_keys(cls, data: Any) -> Any:
        """Each key as the wire spells it (`clear_condition`, `ClearCondition` ->
        `clearCondition`, at every depth): REST took any spelling whose snake_case is a
        field's, and names an unknown key in camelCase, as it always did."""
        return camel_keys(_snake_keys(data))

    def checked(self, at: str = "") -> RuleDefinition:
        """The domain's checked definition of the fields given, or InvalidInput naming the
        field as the client spells it, after `at` (`definition.condition.value`)."""
        given = self.model_dump(include=set(RuleDefinition.model_fields), exclude_unset=True)
        return parse_definition(_values(given), at)


class RuleRevisionBody(RuleDefinitionBody):
    """REST's body of `PUT /alert-rules/{ruleId}`: the full definition; the version may also
    come as an `If-Match` header."""

    expected_version: StrictInt | None = None


class RuleCreate(Input):
    """GraphQL's input of `createAlertRule`: the definition REST takes as the whole body."""

    definition: RuleDefinitionBody

    def checked(self) -> RuleDefinition:
        return self.definition.checked("definition")


class RuleRevise(Input):
    definition: RuleDefinitionBody
    expected_version: int | None = None

    def checked(self) -> RuleDefinition:
        return self.definition.checked("definition")


class RuleDelete(Input):
    """REST takes it as the query of `DELETE /alert-rules/{ruleId}` (other parameters ignored)."""

    model_config = ConfigDict(extra="ignore")

    expected_version: int | None = Field(default=None, ge=1)


class AlertAction(Input):
    """Acknowledge or resolve; the version may also come as an `If-Match` header."""

    note: str | None = Field(default=None, max_length=MAX_NOTE)
    expected_version: int | None = Field(default=None, ge=1)


class SortOrder(StrEnum):
    """The order of a timeline (a string too: REST's `order` takes the values)."""

    NEWEST_FIRST = "newest_first"
    OLDEST_FIRST = "oldest_first"


class RuleQuery(Input):
    """Which rules a listing shows: REST's query, GraphQL's `AlertRuleFilter`."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool | None = None
    severity: Severity | None = None
    include_deleted: bool = False

    def criteria(self) -> RuleFilter:
        return filter_of(self, RuleFilter)


class AlertQuery(Input):
    """Which alerts a listing shows: REST's query, GraphQL's `AlertFilter`."""

    model_config = ConfigDict(extra="ignore")

    severities: list[Severity] | None = Field(
        default=None, validation_alias="severity", description=REPEATABLE
    )
    states: list[AlertState] | None = Field(
        default=None, validation_alias="state", description=REPEATABLE
    )
    rule_id: UUID | None = None
    device_id: UUID | None = None
    raised_from: datetime | None = Field(default=None, validation_alias="from")
    raised_to: datetime | None = Field(default=None, validation_alias="to")

    def criteria(self) -> AlertFilter:
        return filter_of(self, AlertFilter)


class TimelineQuery(Input):
    """Which transitions a timeline shows: REST's query, GraphQL's `AlertTimelineFilter`."""

    model_config = ConfigDict(extra="ignore")

    device_id: UUID | None = None
    alert_id: UUID | None = None
    rule_id: UUID | None = None
    severities: list[Severity] | None = Field(default=None, validation_alias="severity")
    transitions: list[AlertTransition] | None = Field(default=None, validation_alias="transition")
    states: list[AlertState] | None = Field(
        default=None, validation_alias="state", description="The state after the transition."
    )
    start: datetime | None = Field(
        default=None, alias="from", description="Recorded at or after (inclusive)."
    )
    end: datetime | None = Field(
        default=None, alias="to", description="Recorded at or before (inclusive)."
    )

    def criteria(self, newest_first: bool = True) -> TimelineFilter:
        return filter_of(self, TimelineFilter, newest_first=newest_first)


def filter_of(query: Input, filter_class: Callable[..., F], **more: object) -> F:
    """The read model's filter (`RuleFilter`, `AlertFilter`, `TimelineFilter`) of a query, whose
    fields are the filter's by name (tested): enums as their values, lists as sets; a field not
    given keeps the filter's default."""
    values: dict[str, Any] = {}
    for name, value in query.model_dump(exclude_none=True).items():
        values[name] = frozenset(_values(value)) if isinstance(value, list) else _values(value)
    return filter_class(**values, **more)


def parse_definition(data: Mapping[str, Any], at: str = "") -> RuleDefinition:
    """A checked rule definition, or `InvalidInput` naming the field as the client spells it
    (camelCase, dotted, after `at`: `definition.condition.value`)."""
    try:
        return parse_rule_definition(data)
    except InvalidInput as e:
        detail = e.message.split(": ", 1)[1] if e.field and ": " in e.message else e.message
        raise InvalidInput(detail, field=dotted(at, client_path(e.field))) from None


def client_path(field: str | None) -> str | None:
    """The domain's field path as the client spells it; pydantic puts the discriminator's value
    in a union's locations (`condition.threshold.value`): it is left out."""
    parts = [to_camel(p) for p in (field or "").split(".") if p and p not in KINDS]
    return ".".join(parts) or None


def _values(value: Any) -> Any:
    """Enums as their values, at every depth (the domain's JSON takes the values)."""
    if isinstance(value, dict):
        return {k: _values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_values(v) for v in value]
    return value.value if isinstance(value, Enum) else value


def _snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {to_snake(str(k)): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value
