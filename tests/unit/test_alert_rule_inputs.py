"""The GraphQL alert-rule inputs are checked field by field against the domain's definition
(`write_side.alert_rules.RuleDefinition`) and commands (`write_side.alert_commands`), the filter
inputs against the read model's filters, issue 11.

They are spelled out in `api.graphql.alert_inputs` rather than derived: GraphQL has no input
unions, so the domain's discriminated union of conditions is one flat `ConditionInput` (every
variant's fields, optional, `kind` required), the domain's `Literal`s are named GraphQL enums
(`ComparisonOperator.GT` for ">"), ids are `ID`s, and `id` stands for `rule_id`/`alert_id`:
deriving would need an override for most fields. So these tests fail when the two drift: a
field, its required-ness or its default added or changed on one side only."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from typing import Any, get_args
from uuid import uuid4

import pytest
import strawberry
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUndefined

from api.alert_view import (
    AlertTransition,
    ComparisonOperator,
    ConditionKind,
    ConditionPublic,
    RateDirection,
    RateUnit,
)
from api.device_view import Severity
from api.graphql import alert_inputs as gql
from read_side.alerts import AlertFilter, RuleFilter, TimelineFilter
from write_side import alert_commands as commands
from write_side.alert_rules import (
    Comparison,
    Op,
    RateOfChange,
    RuleDefinition,
    Scope,
    parse_rule_definition,
)
from write_side.alert_rules import Condition as DomainCondition
from write_side.errors import InvalidInput

VARIANTS: tuple[type[BaseModel], ...] = get_args(get_args(DomainCondition)[0])
REQUIRED = object()  # no default


def input_fields(cls: type) -> dict[str, Any]:
    """The input's fields, in order, each with its default (`REQUIRED` if none), enum defaults
    as their values."""
    found: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default
        if default is dataclasses.MISSING or default is strawberry.UNSET:
            default = REQUIRED
        found[f.name] = default.value if isinstance(default, Enum) else default
    return found


def model_fields(model: type[BaseModel]) -> dict[str, Any]:
    return {
        name: REQUIRED if info.default is PydanticUndefined else info.default
        for name, info in model.model_fields.items()
    }


@pytest.mark.parametrize(
    ("graphql_input", "model"),
    [
        (gql.AlertRuleDefinitionInput, RuleDefinition),
        (gql.RuleScopeInput, Scope),
        (gql.ComparisonInput, Comparison),
    ],
)
def test_an_input_has_the_domains_fields_and_defaults(graphql_input: type, model: Any) -> None:
    assert input_fields(graphql_input) == model_fields(model)


def test_the_condition_input_has_every_variants_fields_and_defaults() -> None:
    expected: dict[str, Any] = {}
    for variant in VARIANTS:
        for name, default in model_fields(variant).items():
            expected.setdefault(name, None)  # optional: not every variant has it
            if default is not REQUIRED and name != "kind":
                assert expected[name] in (None, default), name  # one default per field
                expected[name] = default
    expected["kind"] = REQUIRED
    found = input_fields(gql.ConditionInput)
    assert found == expected
    # The output shape shows the same fields (a condition comes back as it was given); the
    # GraphQL `Condition` has exactly its fields (`tests/unit/test_alert_view.py`).
    assert list(ConditionPublic.model_fields) == list(found)


@pytest.mark.parametrize(
    ("graphql_input", "command", "renamed"),
    [
        (gql.CreateAlertRuleInput, commands.CreateAlertRule, None),
        (gql.ReviseAlertRuleInput, commands.ReviseAlertRule, "rule_id"),
        (gql.DeleteAlertRuleInput, commands.DeleteAlertRule, "rule_id"),
        (gql.AcknowledgeAlertInput, commands.AcknowledgeAlert, "alert_id"),
        (gql.ResolveAlertInput, commands.ResolveAlert, "alert_id"),
    ],
)
def test_a_command_input_has_the_commands_fields(
    graphql_input: type, command: type[BaseModel], renamed: str | None
) -> None:
    expected = {"id" if n == renamed else n: d for n, d in model_fields(command).items()}
    assert input_fields(graphql_input) == expected


def test_the_enums_are_the_domains_literals() -> None:
    assert [o.value for o in ComparisonOperator] == list(get_args(Op))
    per, direction = RateOfChange.model_fields["per"], RateOfChange.model_fields["direction"]
    assert [u.value for u in RateUnit] == list(get_args(per.annotation))
    assert [d.value for d in RateDirection] == list(get_args(direction.annotation))
    assert [k.value for k in ConditionKind] == [v.model_fields["kind"].default for v in VARIANTS]


@pytest.mark.parametrize(
    "condition",
    [
        gql.ConditionInput(
            kind=ConditionKind.THRESHOLD, metric="temp", op=ComparisonOperator.GT, value=80
        ),
        gql.ConditionInput(
            kind=ConditionKind.FOR_DURATION,
            metric="temp",
            op=ComparisonOperator.GE,
            value=80,
            seconds=60,
        ),
        gql.ConditionInput(kind=ConditionKind.ABSENCE, seconds=300),
        gql.ConditionInput(
            kind=ConditionKind.RATE_OF_CHANGE,
            metric="temp",
            rate=2,
            per=RateUnit.MINUTE,
            direction=RateDirection.RISING,
            window_seconds=120,
        ),
    ],
    ids=lambda c: c.kind.value,
)
def test_every_condition_given_in_graphql_reaches_the_domain_whole(
    condition: gql.ConditionInput,
) -> None:
    given = gql.AlertRuleDefinitionInput(
        name="hot",
        scope=gql.RuleScopeInput(device_id=strawberry.ID(str(uuid4()))),
        severity=Severity.WARNING,
        condition=condition,
        enabled=False,
    )

    definition = parse_rule_definition(given.to_dict())

    (variant,) = [v for v in VARIANTS if v.model_fields["kind"].default == condition.kind.value]
    given_fields = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in dataclasses.asdict(condition).items()
        if name in variant.model_fields and value is not None
    }
    assert definition.condition == variant.model_validate(given_fields)
    assert definition.condition.model_dump(exclude_defaults=True).keys() <= given_fields.keys()
    assert (definition.name, definition.enabled) == ("hot", False)
    assert str(definition.scope.device_id) == given.scope.device_id


@pytest.mark.parametrize(
    ("graphql_input", "read_filter"),
    [
        (gql.AlertRuleFilterInput, RuleFilter),
        (gql.AlertFilterInput, AlertFilter),
        (gql.AlertTimelineFilterInput, TimelineFilter),
    ],
)
def test_a_filter_input_has_the_read_models_filter_fields(
    graphql_input: type, read_filter: type
) -> None:
    """`criteria` passes a filter input's fields by name to the read model's filter."""
    given = [f.name for f in dataclasses.fields(graphql_input)]
    assert set(given) <= {f.name for f in dataclasses.fields(read_filter)}
    assert gql.criteria(None, read_filter) == read_filter()
    assert gql.criteria(graphql_input(), read_filter) == read_filter()


def test_a_filter_input_becomes_the_read_models_filter() -> None:
    rule, device = uuid4(), uuid4()
    given = gql.AlertTimelineFilterInput(
        device_id=strawberry.ID(str(device)),
        rule_id=strawberry.ID(str(rule)),
        severities=[Severity.INFO, Severity.CRITICAL],
        transitions=[AlertTransition.RAISED],
        states=[],
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )

    found = gql.criteria(given, TimelineFilter, newest_first=False)

    assert found == TimelineFilter(
        device_id=device,
        rule_id=rule,
        severities=frozenset({"info", "critical"}),
        transitions=frozenset({"raised"}),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        newest_first=False,
    )
    rules = gql.criteria(gql.AlertRuleFilterInput(severity=Severity.WARNING), RuleFilter)
    assert rules == RuleFilter(severity="warning")


@pytest.mark.parametrize("field", ["rule_id", "device_id"])
def test_a_malformed_id_in_a_filter_names_its_field(field: str) -> None:
    given = gql.AlertFilterInput(**{field: strawberry.ID("nope")})

    with pytest.raises(InvalidInput) as raised:
        gql.criteria(given, AlertFilter)

    assert raised.value.field == f"filter.{to_camel(field)}"
