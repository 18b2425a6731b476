"""The alert, its timeline entries and the alert rule as shown are declared once
(`api.alert_view`, issue 11): the REST response models, the OpenAPI document and the GraphQL
types derived from them all carry exactly their fields, with their descriptions, and show a row
alike."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from uuid import uuid4

import pytest
from pydantic.alias_generators import to_camel

from api.alert_view import (
    AlertPublic,
    AlertResolution,
    AlertRulePublic,
    AlertState,
    AlertTransition,
    ComparisonPublic,
    ConditionKind,
    ConditionPublic,
    RuleRevisionPublic,
    RuleScopePublic,
    TimelineEntryPublic,
)
from api.graphql.alert_types import Alert, AlertChange, AlertRule, AlertTimelineEntry
from read_side import alerts as read_model
from read_side.alerts import AlertRow, AlertRuleRow, TimelineEntry, from_record, to_record
from read_side.notifications import ChangeNotice
from tests.unit.views import (
    graphql_fields,
    openapi_properties,
    same_times,
    schema_showing,
    the_app,
    wire_names,
)
from write_side import severity
from write_side.alert_rules import Condition, RuleDefinition
from write_side.alerts import AlertStatus

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# Fields only GraphQL has: they read more of the read model (the rule, the whole timeline).
GRAPHQL_ONLY = {"rule"}
# The rule's parts, each with the GraphQL type derived from it.
RULE_PARTS = {
    RuleScopePublic: "RuleScope",
    ComparisonPublic: "Comparison",
    ConditionPublic: "Condition",
    RuleRevisionPublic: "AlertRuleRevision",
}


def a_row(**changes: Any) -> AlertRow:
    """A resolved alert with every field set to something other than its default."""
    row = AlertRow(
        tenant_id="t1", alert_id=uuid4(), rule_id=uuid4(), rule_revision=2, rule_name="hot",
        device_id=uuid4(), device_name="pump", episode=3, severity="critical", state="resolved",
        kind="threshold", metric="temp", trigger_value=83.5, threshold=80.0,
        condition_text="temp > 80", raised_at=NOW, count=4, last_value=81.0, peak_value=90.5,
        last_at=NOW + timedelta(minutes=1), version=7, position=2**40,
        acknowledged_at=NOW + timedelta(minutes=2), acknowledged_by="ann",
        acknowledge_note="on it", resolved_at=NOW + timedelta(minutes=3), resolved_by="bob",
        resolution="manual", resolve_note="fixed", repeat_run="k#1",
    )  # fmt: skip
    return replace(row, **changes)


def an_entry() -> TimelineEntry:
    return TimelineEntry(
        tenant_id="t1", key="k#9", event_id=uuid4(), alert_id=uuid4(), device_id=uuid4(),
        rule_id=uuid4(), severity="warning", transition="repeated", state_after="open",
        actor="system", at=NOW, recorded_at=NOW + timedelta(seconds=1), position=2**40 + 1,
        note="n", value=81.5, count=3, last_at=NOW + timedelta(seconds=30),
    )  # fmt: skip


def a_rule_row(condition: dict[str, Any], **definition: Any) -> AlertRuleRow:
    """A rule at its second revision whose definition is `condition` and `definition`."""
    current = RuleDefinition.model_validate(
        {"name": "hot", "scope": {"device_type": "pump"}, "severity": "critical"}
        | {"condition": condition}
        | definition
    ).model_dump(mode="json")
    first = current | {"enabled": False}
    return AlertRuleRow(
        tenant_id="t1", rule_id=uuid4(), revision=2, name="hot", severity="critical",
        enabled=True, deleted=False, definition=current,
        revisions=[
            {"revision": n, "definition": d, "revised_at": NOW.isoformat(), "revised_by": by}
            for n, d, by in ((1, first, "ann"), (2, current, "bob"))
        ],
        version=3, created_at=NOW, updated_at=NOW + timedelta(hours=1), position=9,
    )  # fmt: skip


def shown(graphql_type: type, value: object, names: list[str]) -> dict[str, Any]:
    result = schema_showing(graphql_type, value).execute_sync("{ d { " + " ".join(names) + " } }")
    assert result.errors is None, result.errors
    assert result.data is not None
    data: dict[str, Any] = result.data["d"]
    return data


def upper_enums(rest: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """REST's JSON with the enum fields as GraphQL shows them (member names, not values)."""
    return {k: v.upper() if k in names and v is not None else v for k, v in rest.items()}


def test_the_graphql_types_have_exactly_the_definitions_fields_in_its_order() -> None:
    alert = [n for n in graphql_fields("Alert") if n not in GRAPHQL_ONLY]
    assert alert == wire_names(AlertPublic)
    assert list(graphql_fields("Alert"))[-2:] == ["rule", "timeline"]  # where it always was
    assert list(graphql_fields("AlertTimelineEntry")) == wire_names(TimelineEntryPublic)


def test_the_rules_graphql_types_have_exactly_the_definitions_fields_but_the_json() -> None:
    """`definition` (the current one as stored) is REST's only: GraphQL has the structured
    fields, and each revision's definition."""
    rule = [n for n in wire_names(AlertRulePublic) if n != "definition"]
    assert list(graphql_fields("AlertRule")) == rule
    for model, graphql_name in RULE_PARTS.items():
        assert list(graphql_fields(graphql_name)) == wire_names(model), graphql_name


def test_the_openapi_document_has_exactly_the_definitions_fields() -> None:
    assert list(openapi_properties(the_app(), "AlertPublic")) == wire_names(AlertPublic)
    assert list(openapi_properties(the_app(), "TimelineEntryPublic")) == wire_names(
        TimelineEntryPublic
    )
    for model in (AlertRulePublic, *RULE_PARTS):
        assert list(openapi_properties(the_app(), model.__name__)) == wire_names(model)


def test_both_adapters_carry_the_definitions_descriptions() -> None:
    for model, graphql_name in (
        (AlertPublic, "Alert"),
        (TimelineEntryPublic, "AlertTimelineEntry"),
        (AlertRulePublic, "AlertRule"),
        *RULE_PARTS.items(),
    ):
        openapi = openapi_properties(the_app(), model.__name__)
        graphql = graphql_fields(graphql_name)
        for name, info in model.model_fields.items():
            if info.description is None:
                continue
            assert openapi[to_camel(name)]["description"] == info.description, name
            if name != "timeline":  # Alert.timeline: its own resolver and description
                assert graphql[to_camel(name)].description == info.description, name


def test_rest_and_graphql_show_an_alert_alike() -> None:
    row = a_row()
    rest = AlertPublic.from_row(row).model_dump(mode="json", by_alias=True, exclude={"timeline"})
    names = [n for n in wire_names(AlertPublic) if n != "timeline"]

    graphql = shown(Alert, Alert.from_row(row), names)

    enums = ("severity", "state", "kind", "resolution")
    assert same_times(graphql) == same_times(upper_enums(rest, enums))
    assert rest["id"] == str(row.alert_id)


def test_rest_and_graphql_show_a_timeline_entry_alike() -> None:
    entry = an_entry()
    rest = TimelineEntryPublic.from_entry(entry).model_dump(mode="json", by_alias=True)

    graphql = shown(AlertTimelineEntry, AlertTimelineEntry.from_entry(entry), list(rest))

    enums = ("severity", "transition", "stateAfter")
    assert same_times(graphql) == same_times(upper_enums(rest, enums))
    assert graphql["position"] == 2**40 + 1  # a Long: past GraphQL's 32-bit Int


RULE_QUERY = [
    "id name severity hysteresis enabled deleted revision version createdAt updatedAt",
    "scope { deviceId tag deviceType }",
    "condition { kind metric op value seconds rate per direction windowSeconds }",
    "clearCondition { op value } effectiveClear { op value }",
    "revisions { revision definition revisedAt revisedBy }",
]
RULE_CONDITIONS = [
    ({"kind": "threshold", "metric": "temp", "op": ">", "value": 80}, {"hysteresis": 2}),
    ({"kind": "for_duration", "metric": "t", "op": "<=", "value": 1, "seconds": 60}, {}),
    ({"kind": "absence", "seconds": 300}, {}),
    ({"kind": "rate_of_change", "metric": "t", "rate": 2, "per": "minute"}, {}),
    (
        {"kind": "threshold", "metric": "temp", "op": "!=", "value": 80},
        {"clear_condition": {"op": "==", "value": 80}},
    ),
]
OPERATORS = {">": "GT", ">=": "GE", "<": "LT", "<=": "LE", "==": "EQ", "!=": "NE"}
ENUM_KEYS = ("severity", "kind", "per", "direction")


def graphql_enums(value: Any) -> Any:
    """REST's JSON of a rule with the enums as GraphQL shows them (member names), but inside a
    revision's `definition`: GraphQL's JSON carries the definition as stored."""
    if isinstance(value, list):
        return [graphql_enums(v) for v in value]
    if not isinstance(value, dict):
        return value
    shown = {k: graphql_enums(v) for k, v in value.items() if k != "definition"}
    for key in ENUM_KEYS:
        if shown.get(key) is not None:
            shown[key] = shown[key].upper()
    if shown.get("op") is not None:
        shown["op"] = OPERATORS[shown["op"]]
    return shown


@pytest.mark.parametrize(("condition", "definition"), RULE_CONDITIONS)
def test_rest_and_graphql_show_a_rule_alike(
    condition: dict[str, Any], definition: dict[str, Any]
) -> None:
    row = a_rule_row(condition, **definition)
    public = AlertRulePublic.from_row(row)
    rest = public.model_dump(mode="json", by_alias=True)

    graphql = shown(AlertRule, AlertRule.from_row(row), RULE_QUERY)

    revisions, expected = graphql.pop("revisions"), graphql_enums(rest)
    expected_revisions = expected.pop("revisions")
    assert same_times(graphql) == same_times(expected)
    # Each revision alike, its definition as stored (snake_case keys) in GraphQL's JSON.
    assert [r.pop("definition") for r in revisions] == [r["definition"] for r in row.revisions]
    assert same_times(revisions) == same_times(expected_revisions)
    domain = RuleDefinition.model_validate(row.definition)
    shown_condition = public.condition.model_dump(mode="json", exclude_none=True)
    assert shown_condition == domain.condition.model_dump(mode="json", exclude_none=True)
    effective = domain.clear_comparison
    assert rest["effectiveClear"] == (None if effective is None else effective.model_dump())


def test_rest_shows_the_rules_definition_as_stored_in_camel_case() -> None:
    row = a_rule_row(
        {"kind": "rate_of_change", "metric": "t", "rate": 2, "window_seconds": 60},
        clear_condition={"op": "<", "value": 1},
    )
    rest = AlertRulePublic.from_row(row).model_dump(mode="json", by_alias=True)

    assert rest["definition"]["clearCondition"] == {"op": "<", "value": 1.0}
    assert rest["definition"]["condition"]["windowSeconds"] == 60.0
    assert rest["definition"]["scope"] == {"deviceId": None, "tag": None, "deviceType": "pump"}
    assert [r["definition"]["enabled"] for r in rest["revisions"]] == [False, True]
    assert "clearCondition" in rest["revisions"][0]["definition"]
    assert rest["scope"] == {"deviceId": None, "tag": None, "deviceType": "pump"}
    assert rest["condition"]["windowSeconds"] == 60.0


def test_an_unknown_condition_kind_shows_as_null_on_both_wires() -> None:
    """The row's kind is "unknown" when the rule's definition had none (and in a row built from
    the aggregate alone); GraphQL always showed null, REST now does too."""
    row = a_row(kind="unknown")

    assert AlertPublic.from_row(row).model_dump(mode="json")["kind"] is None
    assert shown(Alert, Alert.from_row(row), ["kind"]) == {"kind": None}


def test_an_alert_change_notice_carries_every_field_of_the_row() -> None:
    """`alertChanged` rebuilds the row from the notice's data (the projection's `to_record`):
    every field comes back as sent, so the subscription shows what a query shows."""
    row = a_row()
    notice = ChangeNotice(
        tenant_id="t1", topic="alert", key=str(row.alert_id), position=row.position,
        event_type="Alert.Resolved", data=json.loads(json.dumps(to_record(row))),
    )  # fmt: skip

    assert from_record(AlertRow, notice.data) == row
    change = AlertChange.from_notice(notice)
    assert change.alert.view == AlertPublic.from_row(row)
    assert change.transition is AlertTransition.RESOLVED
    assert {f.name for f in fields(AlertRow)} <= set(notice.data)


def test_the_enums_are_the_domains_values() -> None:
    kinds = [m.model_fields["kind"].default for m in get_args(get_args(Condition)[0])]
    assert [k.value for k in ConditionKind] == kinds
    assert [s.value for s in AlertState] == list(get_args(AlertStatus))
    assert {"manual", "auto"} <= {r.value for r in AlertResolution}
    # The read model's filters accept exactly what the API's enums show.
    assert [s.value for s in AlertState] == list(read_model.STATES)
    assert {t.value for t in AlertTransition} == set(read_model.TRANSITIONS)


def test_the_read_model_ranks_and_filters_by_the_domains_severities() -> None:
    """One list of severities (`write_side.severity`), not a copy kept in step by hand."""
    assert read_model.SEVERITIES is severity.SEVERITIES
