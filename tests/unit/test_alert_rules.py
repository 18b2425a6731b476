"""Alert rules: definitions, derived clear conditions, validation, and the versioned aggregate."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from write_side.alert_rules import (
    AlertRule,
    Comparison,
    RuleDefinition,
    check_definition,
    overlaps,
    parse_rule_definition,
)
from write_side.errors import AlertRuleDeleted, InvalidInput

DEVICE = uuid.uuid4()


def rule_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "too hot",
        "scope": {"tag": "north"},
        "severity": "warning",
        "condition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
    }
    return data | overrides


@pytest.mark.parametrize(
    "condition",
    [
        {"kind": "threshold", "metric": "temp", "op": "<=", "value": -5},
        {"kind": "for_duration", "metric": "temp", "op": ">", "value": 80, "seconds": 60},
        {"kind": "absence", "metric": None, "seconds": 300},
        {"kind": "absence", "metric": "temp", "seconds": 300},
        {"kind": "rate_of_change", "metric": "temp", "rate": 2, "per": "minute"},
        {
            "kind": "rate_of_change",
            "metric": "p",
            "rate": 1,
            "window_seconds": 60,
            "direction": "rising",
        },
    ],
)
def test_every_condition_kind_parses_and_dumps_to_json(condition: dict[str, Any]) -> None:
    definition = parse_rule_definition(rule_data(condition=condition))
    dumped = json.loads(json.dumps(definition.model_dump(mode="json")))
    assert RuleDefinition.model_validate(dumped) == definition


@pytest.mark.parametrize(
    ("op", "hysteresis", "clear"),
    [
        (">", 5, ("<=", 75)),
        (">=", 5, ("<", 75)),
        ("<", 5, (">=", 85)),
        ("<=", 5, (">", 85)),
        ("==", 5, ("!=", 80)),
        ("!=", 0, ("==", 80)),
        (">", 0, ("<=", 80)),
    ],
)
def test_default_clear_condition_is_the_raise_condition_less_hysteresis(
    op: str, hysteresis: float, clear: tuple[str, float]
) -> None:
    condition = {"kind": "threshold", "metric": "temp", "op": op, "value": 80}
    definition = parse_rule_definition(rule_data(condition=condition, hysteresis=hysteresis))
    assert definition.clear_comparison == Comparison(op=clear[0], value=clear[1])
    assert definition.raise_comparison is not None
    assert not overlaps(definition.raise_comparison, definition.clear_comparison)


def test_rate_of_change_raises_above_the_rate_and_clears_below_it_less_hysteresis() -> None:
    condition = {"kind": "rate_of_change", "metric": "temp", "rate": 2}
    definition = parse_rule_definition(rule_data(condition=condition, hysteresis=0.5))
    assert definition.raise_comparison == Comparison(op=">", value=2)
    assert definition.clear_comparison == Comparison(op="<=", value=1.5)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"clear_condition": {"op": "<", "value": 85}}, "clear_condition"),
        ({"clear_condition": {"op": ">", "value": 90}}, "clear_condition"),
        ({"clear_condition": {"op": "!=", "value": 70}}, "clear_condition"),
        ({"clear_condition": {"op": "<", "value": 75}, "hysteresis": 1}, "hysteresis"),
        (
            {
                "condition": {"kind": "absence", "seconds": 60},
                "clear_condition": {"op": "<", "value": 1},
            },
            "clear_condition",
        ),
        (
            {"condition": {"kind": "rate_of_change", "metric": "t", "rate": 2}, "hysteresis": 2},
            "hysteresis",
        ),
        ({"scope": {"tag": "north", "device_type": "pump"}}, "scope"),
        ({"scope": {}}, "scope"),
        ({"severity": "fatal"}, "severity"),
        ({"name": "  "}, "name"),
        ({"hysteresis": -1}, "hysteresis"),
        (
            {"condition": {"kind": "threshold", "metric": "t", "op": ">", "value": "nan"}},
            "condition.threshold.value",
        ),
        (
            {"condition": {"kind": "threshold", "metric": "bad name", "op": ">", "value": 1}},
            "condition.threshold.metric",
        ),
        (
            {"condition": {"kind": "threshold", "metric": "t", "op": "=>", "value": 1}},
            "condition.threshold.op",
        ),
        ({"condition": {"kind": "absence", "seconds": 0}}, "condition.absence.seconds"),
        (  # value - hysteresis overflows to -inf: no finite clear bound
            {
                "condition": {"kind": "threshold", "metric": "t", "op": ">", "value": -1.7e308},
                "hysteresis": 1.7e308,
            },
            "hysteresis",
        ),
        ({"condition": {"kind": "sometimes"}}, "condition"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_definitions_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rule_definition(rule_data(**overrides))
    assert caught.value.field == field
    assert caught.value.code == "INVALID_INPUT"


def test_a_clear_condition_on_the_far_side_of_the_raise_condition_is_valid() -> None:
    definition = parse_rule_definition(rule_data(clear_condition={"op": "<", "value": 75}))
    assert definition.clear_comparison == Comparison(op="<", value=75)
    touching = parse_rule_definition(rule_data(clear_condition={"op": "<=", "value": 80}))
    assert touching.clear_comparison == Comparison(op="<=", value=80)


@pytest.mark.parametrize(
    ("scope", "device_id", "device_type", "tags", "expected"),
    [
        ({"device_id": str(DEVICE)}, DEVICE, "pump", [], True),
        ({"device_id": str(DEVICE)}, uuid.uuid4(), "pump", [], False),
        ({"tag": "north"}, DEVICE, "pump", ["south", "north"], True),
        ({"tag": "north"}, DEVICE, "pump", ["south"], False),
        ({"device_type": "pump"}, DEVICE, "pump", [], True),
        ({"device_type": "pump"}, DEVICE, "valve", ["pump"], False),
    ],
)
def test_matches_scope(
    scope: dict[str, str], device_id: uuid.UUID, device_type: str, tags: list[str], expected: bool
) -> None:
    definition = parse_rule_definition(rule_data(scope=scope))
    assert definition.matches_scope(device_id, device_type, tags) is expected


def event_names(rule: AlertRule) -> list[str]:
    return [type(e).__qualname__ for e in rule.collect_events()]


def test_rules_are_versioned_and_events_hold_only_json_values() -> None:
    rule = AlertRule.create("acme", parse_rule_definition(rule_data()))
    assert (rule.tenant_id, rule.revision, rule.deleted) == ("acme", 1, False)
    critical = parse_rule_definition(rule_data(severity="critical"))
    assert rule.revise(parse_rule_definition(rule_data())) is False  # unchanged: nothing recorded
    assert rule.revise(critical) is True
    assert rule.revision == 2
    assert rule.current().definition.severity == "critical"
    assert rule.current().revision == 2
    rule.delete()
    events = rule.collect_events()
    assert [type(e).__qualname__ for e in events] == [
        "AlertRule.Created",
        "AlertRule.Revised",
        "AlertRule.Deleted",
    ]
    for e in events:
        state = {k: v for k, v in vars(e).items() if k not in ("originator_id", "timestamp")}
        json.dumps(state)  # str/int/float/bool/list/dict/None only
    assert vars(events[1])["revision"] == 2
    replayed: AlertRule | None = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert vars(replayed) == vars(rule)


def test_a_deleted_rule_refuses_changes() -> None:
    rule = AlertRule.create("acme", parse_rule_definition(rule_data()))
    rule.delete()
    with pytest.raises(AlertRuleDeleted):
        rule.revise(parse_rule_definition(rule_data(severity="info")))
    with pytest.raises(AlertRuleDeleted):
        rule.delete()


def test_create_and_revise_check_cross_field_rules() -> None:
    overlapping = RuleDefinition.model_validate(rule_data(clear_condition={"op": "<", "value": 85}))
    with pytest.raises(InvalidInput):
        check_definition(overlapping)
    with pytest.raises(InvalidInput):
        AlertRule.create("acme", overlapping)
    rule = AlertRule.create("acme", parse_rule_definition(rule_data()))
    with pytest.raises(InvalidInput):
        rule.revise(overlapping)
    assert rule.revision == 1
