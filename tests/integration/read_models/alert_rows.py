"""Rows of the alert read models' contract suites (`test_alerts_contract.py`,
`test_alert_timeline_contract.py`): rules, alerts and their timelines in two tenants (some
under the same ids), written once per module through the view, and the walks and oracles the
suites check the readers against."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from fleetwatch.bootstrap import _alerts_store, application_env
from fleetwatch.settings import Settings
from read_side.alerts import (
    SEVERITIES,
    STATES,
    AlertFilter,
    AlertReader,
    AlertRow,
    AlertRuleRow,
    AlertsChanges,
    DeviceName,
    RuleFilter,
    TimelineEntry,
    TimelineFilter,
    time_key,
)
from read_side.device_status import MAX_PAGE_SIZE, Page
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication

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


def alerts_model(contract_settings: Settings) -> Iterator[Model]:
    """The module's rows on one store (each test module's `model` fixture yields from it)."""
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
