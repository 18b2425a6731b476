"""The alerts service on an in-memory store: rule commands, alert actions with tenants and retries,
and the idempotent decisions behind the alerting policy's commands."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from event_store.envelope import EventMetadata
from write_side.alert_commands import (
    AcknowledgeAlert,
    CreateAlertRule,
    DeleteAlertRule,
    ResolveAlert,
    ReviseAlertRule,
)
from write_side.alert_rules import parse_rule_definition
from write_side.alert_service import AlertService, EscalateAlert, apply_policy_command
from write_side.alerting_policy import AutoResolve, OpenAlert, RecordRepeat
from write_side.alerts import Alert, alert_id
from write_side.application import FleetApplication
from write_side.errors import (
    AlertAlreadyAcknowledged,
    AlertAlreadyResolved,
    AlertRuleDeleted,
    ConcurrencyConflict,
    NotFound,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = EventMetadata("acme", "user:admin")
HOT: dict[str, Any] = {
    "name": "hot",
    "scope": {"device_type": "pump"},
    "severity": "warning",
    "condition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
}


@pytest.fixture
def service() -> Iterator[AlertService]:
    app = FleetApplication()
    yield AlertService(app, clock=lambda: T0)
    app.close()


def open_command(episode: int = 1, at: datetime = T0, value: float | None = 85) -> OpenAlert:
    rule, device = uuid.UUID(int=1), uuid.UUID(int=2)
    return OpenAlert(
        alert_id("acme", rule, device, episode), "acme", rule, 1, device, episode, "warning",
        value, at, "highest",
    )  # fmt: skip


def saved_alert(service: AlertService, command: OpenAlert) -> Alert:
    alert = apply_policy_command(None, command)
    assert alert is not None
    service.app.commit(alert, EventMetadata("acme", "system:alerting"))
    return alert


def test_rules_are_created_revised_and_deleted_within_their_tenant(service: AlertService) -> None:
    created = service.create_rule(CreateAlertRule(definition=parse_rule_definition(HOT)), ADMIN)
    rule_id = created.aggregate.id
    same = ReviseAlertRule(rule_id=rule_id, definition=parse_rule_definition(HOT))
    assert service.revise_rule(same, ADMIN).position == 0  # unchanged: nothing recorded
    hotter = parse_rule_definition(HOT | {"severity": "critical"})
    revised = service.revise_rule(ReviseAlertRule(rule_id=rule_id, definition=hotter), ADMIN)
    assert (revised.aggregate.revision, revised.aggregate.version) == (2, 2)
    stale = ReviseAlertRule(rule_id=rule_id, definition=hotter, expected_version=1)
    with pytest.raises(ConcurrencyConflict):
        service.revise_rule(stale, ADMIN)
    with pytest.raises(NotFound):
        service.delete_rule(DeleteAlertRule(rule_id=rule_id), EventMetadata("globex", "user:x"))
    with pytest.raises(NotFound):
        service.get_rule("acme", uuid.uuid4())
    service.delete_rule(DeleteAlertRule(rule_id=rule_id, expected_version=2), ADMIN)
    with pytest.raises(AlertRuleDeleted):
        service.delete_rule(DeleteAlertRule(rule_id=rule_id), ADMIN)


def test_operators_acknowledge_then_resolve_with_notes(service: AlertService) -> None:
    alert = saved_alert(service, open_command())
    operator = EventMetadata("acme", "user:olga")
    acked = service.acknowledge(AcknowledgeAlert(alert_id=alert.id, note="on it"), operator)
    assert (acked.aggregate.status, acked.aggregate.acknowledged_by) == (
        "acknowledged",
        "user:olga",
    )
    with pytest.raises(AlertAlreadyAcknowledged):
        service.acknowledge(AcknowledgeAlert(alert_id=alert.id), operator)
    with pytest.raises(NotFound):
        service.resolve(ResolveAlert(alert_id=alert.id), EventMetadata("globex", "user:x"))
    with pytest.raises(ConcurrencyConflict):
        service.resolve(ResolveAlert(alert_id=alert.id, expected_version=1), operator)
    resolved = service.resolve(ResolveAlert(alert_id=alert.id, note="done"), operator)
    assert (resolved.aggregate.status, resolved.aggregate.notes) == ("resolved", ["on it", "done"])
    with pytest.raises(AlertAlreadyResolved):
        service.resolve(ResolveAlert(alert_id=alert.id), operator)


def test_a_lost_race_is_retried_unless_a_version_was_expected(
    service: AlertService, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert = saved_alert(service, open_command())
    real_save, calls = service.app.commit, []

    def flaky(aggregate: Any, meta: EventMetadata) -> Any:
        calls.append(aggregate.version)
        if len(calls) == 1:
            raise ConcurrencyConflict("lost a race")
        return real_save(aggregate, meta)

    monkeypatch.setattr(service.app, "commit", flaky)
    service.acknowledge(AcknowledgeAlert(alert_id=alert.id), ADMIN)
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(ConcurrencyConflict):
        service.resolve(ResolveAlert(alert_id=alert.id, expected_version=2), ADMIN)
    assert len(calls) == 1


def test_policy_commands_are_idempotent_against_the_alert() -> None:
    command = open_command()
    alert = apply_policy_command(None, command)
    assert alert is not None
    alert.collect_events()
    assert apply_policy_command(alert, command) is None  # the same open, replayed
    later = open_command(at=T0 + timedelta(seconds=5), value=90)
    assert apply_policy_command(alert, later) is alert  # another raiser's open: a repeat
    assert (alert.count, alert.last_value) == (2, 90)
    repeat = RecordRepeat(alert.id, 95, T0 + timedelta(seconds=9))
    assert apply_policy_command(alert, repeat) is alert
    assert apply_policy_command(alert, repeat) is None  # not newer than the last one
    assert apply_policy_command(alert, EscalateAlert(alert.id, "critical", T0)) is alert
    assert apply_policy_command(alert, EscalateAlert(alert.id, "info", T0)) is None
    resolve = AutoResolve(alert.id, 70, T0 + timedelta(seconds=10))
    assert apply_policy_command(alert, resolve) is alert
    assert apply_policy_command(alert, resolve) is None
    assert (
        apply_policy_command(alert, RecordRepeat(alert.id, 99, T0 + timedelta(minutes=1))) is None
    )
    assert apply_policy_command(None, resolve) is None
    events = [type(e).__name__ for e in alert.collect_events()]
    assert events == ["Repeated", "Repeated", "Escalated", "Resolved"]
