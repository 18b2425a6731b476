"""Contract of `AlertReader` (docs/projections.md 8.3), run on SQLite and DynamoDB Local.

Every adapter promises: `get_rule`, `get_alert`, `timeline_entry` and `device_name` answer the
tenant's own row, equal to what the view wrote, and None otherwise; `list_rules` answers by rule
id, `list_alerts` newest raised first (raise time, then alert id), `timeline` by key (record
time, then feed position), newest first unless asked otherwise; each only the rows matching its
filter, time bounds inclusive; at most `first` (1..500) rows a page and a cursor whenever more
may follow (DynamoDB may cut a page short at its read budget, with a cursor: section 8.3), so
walking the cursors answers every matching row once, in order; a cursor of another listing or
a malformed one is `InvalidInput` on `after`; another tenant's rows are never answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.settings import Settings
from read_side.alerts import (
    AlertFilter,
    AlertRuleRow,
    AlertsChanges,
    RuleFilter,
    TimelineFilter,
)
from tests.hypothesis_profiles import examples
from tests.integration.read_models.alert_rows import (
    OTHER,
    SHARED_AT,
    TENANT,
    Model,
    alert,
    alerts_model,
    alerts_of,
    entries_of,
    rules_of,
    timeline_of,
    walk,
)
from tests.integration.read_models.conftest import Checkpoints


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    yield from alerts_model(contract_settings)


# Rows read back, not found, tenants --------------------------------------------------------


def test_every_row_the_view_wrote_reads_back_equal(model: Model) -> None:
    for rule_row in model.rules:
        assert model.reader.get_rule(TENANT, rule_row.rule_id) == rule_row
    for alert_row in model.alerts:
        assert model.reader.get_alert(TENANT, alert_row.alert_id) == alert_row
    for entry in model.entries:
        assert model.reader.timeline_entry(TENANT, entry.key) == entry
    for device_id, name in model.names.items():
        assert model.reader.device_name(TENANT, device_id) == name


def test_unknown_ids_and_another_tenants_rows_answer_none(model: Model) -> None:
    unknown = uuid.uuid4()
    assert model.reader.get_rule(TENANT, unknown) is None
    assert model.reader.get_alert(TENANT, unknown) is None
    assert model.reader.timeline_entry(TENANT, model.other.entries[-1].key) is None
    assert model.reader.timeline_entry(TENANT, "not a key") is None
    assert model.reader.device_name(TENANT, model.devices[2]) is None
    shared_rule, shared_alert = model.other.rules[0], model.other.alerts[0]
    assert model.reader.get_rule(OTHER, shared_rule.rule_id) == shared_rule
    assert model.reader.get_rule(TENANT, shared_rule.rule_id) != shared_rule
    assert model.reader.get_alert(OTHER, shared_alert.alert_id) == shared_alert
    assert model.reader.get_alert(TENANT, shared_alert.alert_id) != shared_alert
    not_shared = [a for a in model.alerts if a.alert_id != shared_alert.alert_id]
    assert model.reader.get_alert(OTHER, not_shared[0].alert_id) is None
    assert model.reader.device_name(OTHER, model.devices[0]) == "globex pump"
    assert model.reader.device_name(OTHER, model.devices[1]) is None
    assert model.reader.get_rule("nobody", shared_rule.rule_id) is None


def test_listings_answer_the_tenants_rows_only(model: Model) -> None:
    """Also through the indexes keyed by device, rule and alert (both tenants have rows of the
    same device, rule and alert ids)."""
    shared_device, shared_rule = model.devices[0], model.rules[0].rule_id
    for criteria in (
        AlertFilter(),
        AlertFilter(device_id=shared_device),
        AlertFilter(rule_id=shared_rule),
    ):
        assert {a.tenant_id for a in alerts_of(model, criteria)} == {TENANT}
    for timeline_filter in (
        TimelineFilter(),
        TimelineFilter(device_id=shared_device),
        TimelineFilter(rule_id=shared_rule),
        TimelineFilter(alert_id=model.other.alerts[0].alert_id),
    ):
        assert {e.tenant_id for e in timeline_of(model, timeline_filter)} == {TENANT}
    assert {r.tenant_id for r in rules_of(model, RuleFilter(include_deleted=True))} == {TENANT}
    nobody = model.reader.list_alerts("nobody", AlertFilter(), 10, None)
    assert (nobody.items, nobody.next_cursor) == ([], None)
    assert model.reader.timeline("nobody", TimelineFilter(), 10, None).items == []
    assert model.reader.list_rules("nobody", RuleFilter(), 10, None).items == []


# Rules -------------------------------------------------------------------------------------

RULE_FILTERS = [
    RuleFilter(),
    RuleFilter(include_deleted=True),
    RuleFilter(enabled=True),
    RuleFilter(enabled=False, include_deleted=True),
    RuleFilter(severity="critical"),
    RuleFilter(include_deleted=True, enabled=False, severity="warning"),
]


@settings(max_examples=examples(15), deadline=None)
@given(criteria=st.sampled_from(RULE_FILTERS), first=st.integers(1, 9))
def test_rules_any_page_size_walks_the_matching_rules_once_by_rule_id(
    model: Model, criteria: RuleFilter, first: int
) -> None:
    expected = [r for r in model.rules if criteria.matches(r)]
    assert rules_of(model, criteria, first) == expected


# Alerts ------------------------------------------------------------------------------------


def alert_filters(model: Model) -> list[AlertFilter]:
    at = SHARED_AT
    return [
        AlertFilter(),
        AlertFilter(states=frozenset({"open"})),
        AlertFilter(states=frozenset({"open", "acknowledged"})),
        AlertFilter(states=frozenset({"resolved"})),
        AlertFilter(severities=frozenset({"critical", "info"})),
        AlertFilter(device_id=model.devices[1]),
        AlertFilter(device_id=model.devices[2]),
        AlertFilter(rule_id=model.rules[1].rule_id),
        AlertFilter(device_id=model.devices[0], rule_id=model.rules[0].rule_id),
        AlertFilter(raised_from=at),
        AlertFilter(raised_to=at),
        AlertFilter(raised_from=at, raised_to=at),
        AlertFilter(states=frozenset({"open"}), raised_to=at, severities=frozenset({"info"})),
        AlertFilter(rule_id=model.rules[2].rule_id, states=frozenset({"acknowledged", "open"})),
    ]


def test_alerts_answer_the_matching_alerts_newest_raised_first(model: Model) -> None:
    for criteria in alert_filters(model):
        expected = [a for a in model.alerts if criteria.matches(a)]
        assert alerts_of(model, criteria) == expected, criteria


def test_alert_time_bounds_are_inclusive(model: Model) -> None:
    both = [a for a in model.alerts if a.raised_at == SHARED_AT]
    assert len(both) == 2
    assert alerts_of(model, AlertFilter(raised_from=SHARED_AT, raised_to=SHARED_AT)) == both


@settings(max_examples=examples(25), deadline=None)
@given(data=st.data(), first=st.integers(1, 7))
def test_alerts_any_page_size_walks_the_matching_alerts_once_in_order(
    model: Model, data: st.DataObject, first: int
) -> None:
    criteria = data.draw(st.sampled_from(alert_filters(model)))
    expected = [a for a in model.alerts if criteria.matches(a)]
    assert alerts_of(model, criteria, first) == expected


def test_a_filter_matching_few_alerts_walks_past_a_read_budget(model: Model) -> None:
    """70 alerts, the oldest the only critical one, one a page: DynamoDB reads 3 items a Query
    and 20 Queries a request (`READ_BUDGET`), so pages come back short with a cursor until it
    is found; the walk still answers it once."""
    tenant = f"scratch-{uuid.uuid4().hex[:8]}"
    rule_id, device_id = uuid.uuid4(), uuid.uuid4()
    rows = [
        alert(tenant, i, rule_id, device_id, severity="critical" if i == 0 else "info")
        for i in range(70)
    ]
    model.view.commit(AlertsChanges(alerts=rows), Checkpoints("alerts-contract-budget").next())
    criteria = AlertFilter(severities=frozenset({"critical"}))
    found = walk(lambda n, after: model.reader.list_alerts(tenant, criteria, n, after), 1)
    assert found == [rows[0]]


def test_a_row_written_again_replaces_the_old_one_in_every_listing(model: Model) -> None:
    """Resolving an alert takes it out of the open and acknowledged ones (on DynamoDB the
    sparse `active` index), and its timeline gains the transition."""
    tenant = f"scratch-{uuid.uuid4().hex[:8]}"
    opened = alert(tenant, 0, uuid.uuid4(), uuid.uuid4(), state="open", version=1)
    resolved_at = opened.raised_at + timedelta(minutes=5)
    resolved = replace(opened, state="resolved", resolved_at=resolved_at, version=2)
    positions = iter(range(1, 100))
    checkpoints = Checkpoints("alerts-contract-rewrite")
    raised = entries_of(opened, positions)
    model.view.commit(AlertsChanges(alerts=[opened], entries=raised), checkpoints.next())
    active = AlertFilter(states=frozenset({"open", "acknowledged"}))
    assert model.reader.list_alerts(tenant, active, 5, None).items == [opened]
    closing = entries_of(resolved, positions)[1:]
    model.view.commit(AlertsChanges(alerts=[resolved], entries=closing), checkpoints.next())
    assert model.reader.get_alert(tenant, opened.alert_id) == resolved
    assert model.reader.list_alerts(tenant, active, 5, None).items == []
    gone = AlertFilter(states=frozenset({"resolved"}))
    assert model.reader.list_alerts(tenant, gone, 5, None).items == [resolved]
    oldest_first = TimelineFilter(alert_id=opened.alert_id, newest_first=False)
    timeline = model.reader.timeline(tenant, oldest_first, 5, None).items
    assert timeline == raised + closing


def test_rows_of_an_other_tenant_sort_into_their_own_listing(model: Model) -> None:
    other = model.reader.list_alerts(OTHER, AlertFilter(), 10, None).items
    assert other == sorted(model.other.alerts, key=lambda a: a.raised_key, reverse=True)
    rules: Sequence[AlertRuleRow] = model.reader.list_rules(
        OTHER, RuleFilter(include_deleted=True), 10, None
    ).items
    assert list(rules) == sorted(model.other.rules, key=lambda r: r.rule_id)
