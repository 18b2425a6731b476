"""Contract of `AlertReader` (docs/architecture.md 8.3), run on SQLite and DynamoDB Local.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.bootstrap import _alerts_store, application_env
from fleetwatch.settings import Settings
from projections.alert_views import AlertsChanges
from read_side.alerts import (
    SEVERITIES,
    STATES,
    AlertFilter,
    AlertReader,
    AlertRow,
    AlertRuleRow,
    DeviceName,
    RuleFilter,
    TimelineEntry,
    TimelineFilter,
    encode_cursor,
    time_key,
)
from read_side.device_status import MAX_PAGE_SIZE, Page
from tests.hypothesis_profiles import examples
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication
from write_side.errors import InvalidInput

TENANT, OTHER = "acme", "globex"
T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
SHARED_AT = T0 + timedelta(minutes=40)  # alerts 4 and 5 were both raised then
R = TypeVar("R")


@dataclass
class Model:
    app: FleetApplication
    view: Any
    reader: AlertReader
    rules: list[AlertRuleRow]  # the tenant's, by rule id
    alerts: list[AlertRow]  # the tenant's, newest raised first
    entries: list[TimelineEntry]  # the tenant's, oldest key first
    devices: list[uuid.UUID]
    names: dict[uuid.UUID, str]
    other: AlertsChanges  # the other tenant's rows (some under the tenant's ids)


def rule(tenant: str, index: int, **changes: Any) -> AlertRuleRow:
    definition = {"name": f"rule {index}", "severity": SEVERITIES[index % 3], "metric": "temp"}
    row = AlertRuleRow(
        tenant_id=tenant,
        rule_id=uuid.uuid4(),
        revision=1 + index % 2,
        name=f"rule {index}",
        severity=SEVERITIES[index % 3],
        enabled=index % 2 == 0,
        deleted=index % 4 == 3,
        definition=definition,
        revisions=[
            {
                "revision": 1,
                "definition": definition,
                "revised_at": T0.isoformat(),
                "revised_by": "u",
            }
        ],
        version=index + 1,
        created_at=T0,
        updated_at=T0 + timedelta(minutes=index),
        position=index + 1,
    )
    return replace(row, **changes)


def alert(
    tenant: str, index: int, rule_id: uuid.UUID, device_id: uuid.UUID, **changes: Any
) -> AlertRow:
    raised_at = SHARED_AT if index in (4, 5) else T0 + timedelta(minutes=10 * index)
    state = STATES[index % 3]
    row = AlertRow(
        tenant_id=tenant,
        alert_id=uuid.uuid4(),
        rule_id=rule_id,
        rule_revision=1,
        rule_name="rule",
        device_id=device_id,
        device_name="Pumpe Ö",
        episode=index,
        severity=SEVERITIES[index % 3],
        state=state,
        kind="threshold",
        metric="temp",
        trigger_value=80.5 + index,
        threshold=80.0,
        condition_text="temp > 80 for 60 s",
        raised_at=raised_at,
        count=1 + index,
        last_value=81.0,
        peak_value=90.0 + index,
        last_at=raised_at + timedelta(minutes=1),
        version=1 + index % 3,
        position=100 + index,
        acknowledged_at=raised_at + timedelta(minutes=2) if state != "open" else None,
        acknowledged_by="user:ann" if state != "open" else None,
        resolved_at=raised_at + timedelta(minutes=3) if state == "resolved" else None,
        resolution="manual" if state == "resolved" else None,
    )
    return replace(row, **changes)


def entries_of(row: AlertRow, positions: Iterator[int]) -> list[TimelineEntry]:
    """The row's transitions, each recorded when it happened."""
    steps = [("raised", "open", row.raised_at)]
    if row.acknowledged_at is not None:
        steps.append(("acknowledged", "acknowledged", row.acknowledged_at))
    if row.resolved_at is not None:
        steps.append(("resolved", "resolved", row.resolved_at))
    found = []
    for transition, state_after, at in steps:
        position = next(positions)
        found.append(
            TimelineEntry(
                tenant_id=row.tenant_id,
                key=f"{time_key(at)}#{position:016d}",
                event_id=uuid.uuid4(),
                alert_id=row.alert_id,
                device_id=row.device_id,
                rule_id=row.rule_id,
                severity=row.severity,
                transition=transition,
                state_after=state_after,
                actor="system:alerting",
                at=at,
                recorded_at=at,
                position=position,
                value=row.trigger_value if transition == "raised" else None,
            )
        )
    return found


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = _alerts_store(app, contract_settings)
    rules = sorted((rule(TENANT, i) for i in range(8)), key=lambda r: r.rule_id)
    devices = sorted([uuid.uuid4(), uuid.uuid4(), uuid.uuid4()])
    alerts = [
        alert(TENANT, i, rules[i % 3].rule_id, devices[i % 2]) for i in range(13)
    ]  # devices[2] has none
    positions = iter(range(1, 10_000))
    entries = [e for a in alerts for e in entries_of(a, positions)]
    names = {devices[0]: "Pumpe Ö", devices[1]: "valve"}
    other_rules = [rule(OTHER, 0, rule_id=rules[0].rule_id), rule(OTHER, 1)]
    other_alerts = [
        alert(OTHER, 0, rules[0].rule_id, devices[0], alert_id=alerts[0].alert_id),
        alert(OTHER, 7, other_rules[1].rule_id, devices[0]),
    ]
    other = AlertsChanges(
        rules=other_rules,
        alerts=other_alerts,
        entries=[e for a in other_alerts for e in entries_of(a, positions)],
        devices=[DeviceName(OTHER, devices[0], "globex pump")],
    )
    checkpoints = Checkpoints("alerts-contract")
    view.commit(
        AlertsChanges(
            rules=rules,
            alerts=alerts,
            entries=entries,
            devices=[DeviceName(TENANT, d, n) for d, n in names.items()],
        ),
        checkpoints.next(),
    )
    view.commit(other, checkpoints.next())
    alerts.sort(key=lambda a: a.raised_key, reverse=True)
    entries.sort(key=lambda e: e.key)
    yield Model(app, view, reader, rules, alerts, entries, devices, names, other)
    app.close()


def walk(read: Callable[[int, str | None], Page[R]], first: int) -> list[R]:
    """Every page of a listing (`read(first, after)`), checking each page's promises."""
    found: list[R] = []
    after = None
    for _ in range(200):
        page = read(first, after)
        assert len(page.items) <= first
        found += page.items
        if page.next_cursor is None:
            return found
        after = page.next_cursor
    raise AssertionError("more than 200 pages")


def rules_of(model: Model, criteria: RuleFilter, first: int = MAX_PAGE_SIZE) -> list[AlertRuleRow]:
    return walk(lambda n, after: model.reader.list_rules(TENANT, criteria, n, after), first)


def alerts_of(model: Model, criteria: AlertFilter, first: int = MAX_PAGE_SIZE) -> list[AlertRow]:
    return walk(lambda n, after: model.reader.list_alerts(TENANT, criteria, n, after), first)


def timeline_of(
    model: Model, criteria: TimelineFilter, first: int = MAX_PAGE_SIZE
) -> list[TimelineEntry]:
    return walk(lambda n, after: model.reader.timeline(TENANT, criteria, n, after), first)


def expected_timeline(model: Model, criteria: TimelineFilter) -> list[TimelineEntry]:
    low, high = criteria.key_range()
    found = [e for e in model.entries if criteria.matches(e) and low <= e.key <= high]
    return found[::-1] if criteria.newest_first else found


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


# Timeline ----------------------------------------------------------------------------------


def timeline_filters(model: Model) -> list[TimelineFilter]:
    start, end = model.entries[5].recorded_at, model.entries[-6].recorded_at
    some = model.alerts[3]
    return [
        TimelineFilter(),
        TimelineFilter(newest_first=False),
        TimelineFilter(device_id=model.devices[0]),
        TimelineFilter(alert_id=some.alert_id, newest_first=False),
        TimelineFilter(rule_id=model.rules[2].rule_id),
        TimelineFilter(alert_id=some.alert_id, device_id=some.device_id, rule_id=some.rule_id),
        TimelineFilter(alert_id=some.alert_id, device_id=model.devices[2]),
        TimelineFilter(transitions=frozenset({"resolved", "acknowledged"})),
        TimelineFilter(states=frozenset({"open"}), severities=frozenset({"warning"})),
        TimelineFilter(start=start),
        TimelineFilter(end=end, newest_first=False),
        TimelineFilter(start=start, end=end, device_id=model.devices[1]),
        TimelineFilter(start=start, end=start),
    ]


def test_timeline_answers_the_matching_entries_by_key(model: Model) -> None:
    for criteria in timeline_filters(model):
        assert timeline_of(model, criteria) == expected_timeline(model, criteria), criteria


def test_timeline_time_bounds_are_inclusive(model: Model) -> None:
    exact = [e for e in model.entries if e.recorded_at == SHARED_AT]
    assert len(exact) == 2
    criteria = TimelineFilter(start=SHARED_AT, end=SHARED_AT, newest_first=False)
    assert timeline_of(model, criteria) == exact


@settings(max_examples=examples(25), deadline=None)
@given(data=st.data(), first=st.integers(1, 9))
def test_timeline_any_page_size_walks_the_matching_entries_once_in_order(
    model: Model, data: st.DataObject, first: int
) -> None:
    criteria = data.draw(st.sampled_from(timeline_filters(model)))
    assert timeline_of(model, criteria, first) == expected_timeline(model, criteria)


# Cursors and limits ------------------------------------------------------------------------


def listings(model: Model) -> dict[str, Callable[[int, str | None], Page[Any]]]:
    return {
        "rules": lambda n, after: model.reader.list_rules(TENANT, RuleFilter(), n, after),
        "alerts": lambda n, after: model.reader.list_alerts(TENANT, AlertFilter(), n, after),
        "timeline": lambda n, after: model.reader.timeline(TENANT, TimelineFilter(), n, after),
    }


KIND = {"rules": "r", "alerts": "a", "timeline": "t"}


@pytest.mark.parametrize("listing", KIND)
@pytest.mark.parametrize("first", [0, -3, MAX_PAGE_SIZE + 1])
def test_a_page_size_out_of_bounds_is_invalid_input_on_first(
    model: Model, listing: str, first: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        listings(model)[listing](first, None)
    assert raised.value.field == "first"


@pytest.mark.parametrize("listing", KIND)
def test_another_listings_cursor_or_a_malformed_one_is_invalid_input_on_after(
    model: Model, listing: str
) -> None:
    read = listings(model)[listing]
    page = read(1, None)
    assert page.next_cursor is not None
    foreign = [encode_cursor(kind, "x" * 16) for other, kind in KIND.items() if other != listing]
    for cursor in [*foreign, "", "%%%", encode_cursor(KIND[listing], "x" * 201), "ZDo"]:
        with pytest.raises(InvalidInput) as raised:
            read(1, cursor)
        assert raised.value.field == "after", cursor


def test_an_alert_cursor_outside_the_filters_time_range_answers_an_empty_last_page(
    model: Model,
) -> None:
    """A cursor is a position: one of an alert raised before `raisedFrom` (from a listing
    without the bound) has nothing of the bounded listing after it."""
    oldest, newest = model.alerts[-1], model.alerts[0]
    cursor = encode_cursor("a", oldest.raised_key)
    bounded = AlertFilter(raised_from=newest.raised_at)
    page = model.reader.list_alerts(TENANT, bounded, 10, cursor)
    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize("newest_first", [True, False])
def test_a_timeline_cursor_outside_the_filters_time_range_answers_an_empty_last_page(
    model: Model, newest_first: bool
) -> None:
    first, last = model.entries[0], model.entries[-1]
    if newest_first:  # after the oldest entry, newest first, within a range of the newest
        criteria = TimelineFilter(start=last.recorded_at)
        cursor = encode_cursor("t", first.key)
    else:
        criteria = TimelineFilter(end=first.recorded_at, newest_first=False)
        cursor = encode_cursor("t", last.key)
    page = model.reader.timeline(TENANT, criteria, 10, cursor)
    assert (page.items, page.next_cursor) == ([], None)


def test_a_range_that_ends_before_it_starts_answers_an_empty_last_page(model: Model) -> None:
    later, earlier = model.alerts[0].raised_at, model.alerts[-1].raised_at
    page = model.reader.list_alerts(
        TENANT, AlertFilter(raised_from=later, raised_to=earlier), 5, None
    )
    assert (page.items, page.next_cursor) == ([], None)
    for newest_first in (True, False):
        criteria = TimelineFilter(start=later, end=earlier, newest_first=newest_first)
        entries = model.reader.timeline(TENANT, criteria, 5, None)
        assert (entries.items, entries.next_cursor) == ([], None)


def test_time_bounds_before_the_year_1000_still_bound(model: Model) -> None:
    """Time keys are compared as text: a year of fewer than four digits must still sort
    before 2026 (`strftime("%Y")` does not pad it on Linux)."""
    long_ago = datetime(999, 12, 31, tzinfo=UTC)
    assert alerts_of(model, AlertFilter(raised_to=long_ago)) == []
    assert alerts_of(model, AlertFilter(raised_from=long_ago)) == model.alerts
    assert timeline_of(model, TimelineFilter(end=long_ago)) == []
    assert timeline_of(model, TimelineFilter(start=long_ago, newest_first=False)) == model.entries


def test_rows_of_an_other_tenant_sort_into_their_own_listing(model: Model) -> None:
    other = model.reader.list_alerts(OTHER, AlertFilter(), 10, None).items
    assert other == sorted(model.other.alerts, key=lambda a: a.raised_key, reverse=True)
    rules: Sequence[AlertRuleRow] = model.reader.list_rules(
        OTHER, RuleFilter(include_deleted=True), 10, None
    ).items
    assert list(rules) == sorted(model.other.rules, key=lambda r: r.rule_id)
