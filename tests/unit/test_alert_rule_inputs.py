"""The alert inputs are declared once (`api.alert_inputs`, issue 11): the GraphQL inputs derived
from them and the REST bodies and queries that are them are checked field by field against the
domain's definition (`write_side.alert_rules.RuleDefinition`), commands
(`write_side.alert_commands`) and the read model's filters.

GraphQL has no input unions, so the domain's discriminated union of conditions is one flat
`ConditionBody` (every variant's fields, optional, `kind` required), the domain's `Literal`s are
named enums (`ComparisonOperator.GT` for ">"), ids are `ID`s, and `id` stands for
`rule_id`/`alert_id`. So these tests fail when the two drift: a field, its required-ness or its
default added or changed on one side only."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from typing import Any, get_args
from uuid import uuid4

import pytest
import strawberry
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUndefined

from api.alert_inputs import (
    AlertQuery,
    ComparisonBody,
    ConditionBody,
    RuleCreate,
    RuleDefinitionBody,
    RuleQuery,
    RuleScopeBody,
    TimelineQuery,
)
from api.alert_view import (
    AlertTransition,
    ComparisonOperator,
    ConditionKind,
    ConditionPublic,
    RateDirection,
    RateUnit,
)
from api.app import create_app
from api.device_view import Severity
from api.graphql import alert_inputs as gql
from api.graphql import schema  # noqa: F401  (derives the operations' inputs on import)
from api.graphql.derive import model_of, named
from api.inputs import Input
from read_side.alerts import AlertFilter, RuleFilter, TimelineFilter
from write_side import alert_commands as commands
from write_side.alert_rules import Comparison, Op, RateOfChange, RuleDefinition, Scope
from write_side.alert_rules import Condition as DomainCondition
from write_side.errors import InvalidInput

VARIANTS: tuple[type[BaseModel], ...] = get_args(get_args(DomainCondition)[0])
REQUIRED = object()  # no default


def input_fields(cls: type) -> dict[str, Any]:
    """The GraphQL input's fields, in order, each with its default (`REQUIRED` if none), enum
    defaults as their values."""
    found: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default
        if default is dataclasses.MISSING or default is strawberry.UNSET:
            default = REQUIRED
        found[f.name] = default.value if isinstance(default, Enum) else default
    return found


def model_fields(model: type[BaseModel]) -> dict[str, Any]:
    found = {}
    for name, info in model.model_fields.items():
        default = REQUIRED if info.default is PydanticUndefined else info.default
        found[name] = default.value if isinstance(default, Enum) else default
    return found


@pytest.mark.parametrize(
    ("shape", "graphql_input", "model"),
    [
        (RuleDefinitionBody, gql.AlertRuleDefinitionInput, RuleDefinition),
        (RuleScopeBody, gql.RuleScopeInput, Scope),
        (ComparisonBody, gql.ComparisonInput, Comparison),
    ],
)
def test_an_input_has_the_domains_fields_and_defaults(
    shape: type[Input], graphql_input: type, model: Any
) -> None:
    assert model_fields(shape) == model_fields(model)
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
    assert model_fields(ConditionBody) == expected
    found = input_fields(gql.ConditionInput)
    assert found == expected
    # The output shape shows the same fields (a condition comes back as it was given); the
    # GraphQL `Condition` has exactly its fields (`tests/unit/test_alert_view.py`).
    assert list(ConditionPublic.model_fields) == list(found)


@pytest.mark.parametrize(
    ("graphql_input", "command", "renamed"),
    [
        (named("CreateAlertRuleInput"), commands.CreateAlertRule, None),
        (named("ReviseAlertRuleInput"), commands.ReviseAlertRule, "rule_id"),
        (named("DeleteAlertRuleInput"), commands.DeleteAlertRule, "rule_id"),
        (named("AcknowledgeAlertInput"), commands.AcknowledgeAlert, "alert_id"),
        (named("ResolveAlertInput"), commands.ResolveAlert, "alert_id"),
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
def test_every_condition_reaches_the_domain_whole_from_both_adapters(
    condition: gql.ConditionInput,
) -> None:
    device = uuid4()
    given = gql.AlertRuleDefinitionInput(
        name="hot",
        scope=gql.RuleScopeInput(device_id=strawberry.ID(str(device))),
        severity=Severity.WARNING,
        condition=condition,
        enabled=False,
    )

    definition = model_of(given, RuleDefinitionBody).checked()

    (variant,) = [v for v in VARIANTS if v.model_fields["kind"].default == condition.kind.value]
    given_fields = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in dataclasses.asdict(condition).items()
        if name in variant.model_fields and value is not None
    }
    assert definition.condition == variant.model_validate(given_fields)
    assert definition.condition.model_dump(exclude_defaults=True).keys() <= given_fields.keys()
    assert (definition.name, definition.enabled) == ("hot", False)
    assert definition.scope.device_id == device
    # REST: the same definition as camelCase JSON, the body taken as it is.
    body = {to_camel(k): v for k, v in given_fields.items()}
    sent = {"name": "hot", "scope": {"deviceId": str(device)}, "severity": "warning"}
    rest = RuleDefinitionBody.model_validate(sent | {"condition": body, "enabled": False})
    assert rest.checked() == definition


@pytest.mark.parametrize("key", ["clearCondition", "clear_condition", "ClearCondition"])
def test_rest_takes_a_key_in_any_spelling_whose_snake_case_is_the_fields(key: str) -> None:
    sent = {
        "NAME": "hot",
        "scope": {"DeviceType": "pump"},
        "severity": "warning",
        "condition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
        key: {"op": "<", "value": 75},
    }

    definition = RuleDefinitionBody.model_validate(sent).checked()

    assert definition.clear_condition == Comparison(op="<", value=75)
    assert (definition.name, definition.scope.device_type) == ("hot", "pump")
    with pytest.raises(ValidationError) as raised:
        RuleDefinitionBody.model_validate(sent | {"no_such_key": 1})
    assert raised.value.errors()[0]["loc"] == ("noSuchKey",)  # as REST always named it


def test_a_field_the_kind_lacks_is_refused_alike_by_both_adapters() -> None:
    """A rate's unit on a threshold: REST always refused it; GraphQL, which fills in the unit's
    default, passes the domain only a unit other than that default, so it refuses it too."""
    threshold = {"kind": "threshold", "metric": "temp", "op": ">", "value": 80}
    sent = {"name": "hot", "scope": {"tag": "a"}, "severity": "info"}
    body = RuleDefinitionBody.model_validate(sent | {"condition": threshold | {"per": "minute"}})
    with pytest.raises(InvalidInput) as rest:
        body.checked()
    given = named("CreateAlertRuleInput")(
        definition=gql.AlertRuleDefinitionInput(
            name="hot",
            scope=gql.RuleScopeInput(tag="a"),
            severity=Severity.INFO,
            condition=gql.ConditionInput(
                kind=ConditionKind.THRESHOLD, metric="temp", op=ComparisonOperator.GT, value=80
            ),
        )
    )
    assert model_of(given, RuleCreate).definition.checked().condition.kind == "threshold"
    given.definition.condition.per = RateUnit.MINUTE
    with pytest.raises(InvalidInput) as graphql:
        model_of(given, RuleCreate).definition.checked("definition")

    assert rest.value.field == "condition.per"
    assert graphql.value.field == "definition.condition.per"


@pytest.mark.parametrize(
    ("query", "graphql_input", "read_filter"),
    [
        (RuleQuery, named("AlertRuleFilter"), RuleFilter),
        (AlertQuery, gql.AlertFilterInput, AlertFilter),
        (TimelineQuery, gql.AlertTimelineFilterInput, TimelineFilter),
    ],
)
def test_a_filter_has_the_read_models_filter_fields(
    query: type[RuleQuery | AlertQuery | TimelineQuery], graphql_input: type, read_filter: type
) -> None:
    """`criteria` passes a query's fields by name to the read model's filter."""
    assert set(query.model_fields) <= {f.name for f in dataclasses.fields(read_filter)}
    assert [f.name for f in dataclasses.fields(graphql_input)] == list(query.model_fields)
    assert query().criteria() == read_filter()
    assert gql.query_of(None, query).criteria() == read_filter()
    assert gql.query_of(graphql_input(), query).criteria() == read_filter()


def test_a_filter_becomes_the_read_models_filter_from_both_adapters() -> None:
    rule, device = uuid4(), uuid4()
    given = gql.AlertTimelineFilterInput(
        device_id=strawberry.ID(str(device)),
        rule_id=strawberry.ID(str(rule)),
        severities=[Severity.INFO, Severity.CRITICAL],
        transitions=[AlertTransition.RAISED],
        states=[],
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )

    found = gql.query_of(given, TimelineQuery).criteria(newest_first=False)

    assert found == TimelineFilter(
        device_id=device,
        rule_id=rule,
        severities=frozenset({"info", "critical"}),
        transitions=frozenset({"raised"}),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        newest_first=False,
    )
    # REST: the query string's names (repeatable `severity`, `from`), the same filter.
    sent = {"deviceId": str(device), "ruleId": str(rule), "severity": ["info", "critical"]}
    sent |= {"transition": ["raised"], "from": "2026-01-01T00:00:00Z", "first": "5"}
    assert TimelineQuery.model_validate(sent).criteria(newest_first=False) == found
    rules = gql.query_of(named("AlertRuleFilter")(severity=Severity.WARNING), RuleQuery)
    assert rules.criteria() == RuleFilter(severity="warning")


def test_rest_keeps_its_query_parameter_names() -> None:
    """Each listing's parameters, in order, the repeatable ones (lists) marked `*`."""
    paths = create_app(None).openapi()["paths"]
    names = {
        "/alerts": "severity* state* ruleId deviceId from to first after",
        "/alert-timeline": (
            "deviceId alertId ruleId severity* transition* state* from to order first after"
        ),
        "/alert-rules": "enabled severity includeDeleted first after",
    }
    for path, expected in names.items():
        parameters = paths[path]["get"]["parameters"]
        found = [p["name"] + ("*" if "array" in str(p["schema"]) else "") for p in parameters]
        assert found == expected.split(), path
    body = paths["/alert-rules"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/RuleDefinitionBody")


@pytest.mark.parametrize("field", ["rule_id", "device_id"])
def test_a_malformed_id_in_a_filter_names_its_field(field: str) -> None:
    given = gql.AlertFilterInput(**{field: strawberry.ID("nope")})

    with pytest.raises(InvalidInput) as raised:
        gql.query_of(given, AlertQuery)

    assert raised.value.field == f"filter.{to_camel(field)}"
