"""The alerts projection without a store: pure evolution of rule and alert rows and timeline
entries (coalesced repeats, guards), batches with an in-memory view, cursors and codecs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections import alert_evolve
from projections.alert_evolve import condition_text, evolve_alert, evolve_rule
from projections.alert_views import AlertsProjection
from read_side import alerts as read_model
from read_side.alerts import (
    AlertFilter,
    AlertReader,
    AlertRow,
    AlertRuleRow,
    AlertsChanges,
    AlertsView,
    RuleFilter,
    TimelineEntry,
    TimelineFilter,
    decode_cursor,
    dumps,
    encode_cursor,
    loads,
)
from read_side.device_status import Page
from tests.unit.envelopes import recorded
from write_side import alert_lifecycle, alerts
from write_side.errors import InvalidInput
from write_side.event_names import types

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULE, ALERT, DEVICE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
DEFINITION = {
    "name": "hot",
    "scope": {"device_type": "pump"},
    "severity": "warning",
    "condition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 80.0},
    "clear_condition": None,
    "hysteresis": 5.0,
    "enabled": True,
}
_positions = iter(range(1, 10_000))


def envelope(
    kind: str, stream: UUID, version: int, seconds: float = 0, **payload: Any
) -> EventEnvelope:
    actor = payload.pop("by", "system:alerting")
    at = T0 + timedelta(seconds=seconds)
    position = next(_positions)
    return recorded(
        kind, payload, stream_id=stream, version=version, at=at, actor=actor, position=position
    )


def rule_row() -> AlertRuleRow:
    row = evolve_rule(
        None, envelope("AlertRule.Created", RULE, 1, tenant_id="acme", definition=DEFINITION)
    )
    assert row is not None
    return row


def raised(version: int = 1) -> EventEnvelope:
    return envelope(
        "Alert.Raised", ALERT, version, 1, tenant_id="acme", rule_id=str(RULE), rule_revision=1,
        device_id=str(DEVICE), episode=1, severity="warning", value=85.0, at=T0.isoformat(),
        peak_mode="highest",
    )  # fmt: skip


def repeated(version: int, value: float) -> EventEnvelope:
    at = (T0 + timedelta(seconds=version)).isoformat()
    return envelope(
        "Alert.Repeated", ALERT, version, version, value=value, at=at, count=version, peak=value
    )


def test_rules_keep_every_revision_and_skip_what_they_have_applied() -> None:
    row = rule_row()
    assert (row.revision, row.name, row.enabled, row.version) == (1, "hot", True, 1)
    revised = envelope(
        "AlertRule.Revised", RULE, 2, 5, revision=2,
        definition=DEFINITION | {"enabled": False, "severity": "critical"}, by="user:ann",
    )  # fmt: skip
    row2 = evolve_rule(row, revised)
    assert row2 is not None
    assert (row2.revision, row2.enabled, row2.severity) == (2, False, "critical")
    assert [r["revised_by"] for r in row2.revisions] == ["system:alerting", "user:ann"]
    assert row2.definition_of(1) == DEFINITION
    assert evolve_rule(row2, revised) is None  # replayed
    deleted = evolve_rule(row2, envelope("AlertRule.Deleted", RULE, 3, 9))
    assert deleted is not None
    assert deleted.deleted


def test_an_alert_row_and_its_timeline_with_repeats_coalesced_until_the_next_transition() -> None:
    made = evolve_alert(None, raised(), rule_row(), "pump-7")
    assert made is not None
    row, entry = made
    assert (row.rule_name, row.device_name, row.kind, row.threshold) == (
        "hot",
        "pump-7",
        "threshold",
        80.0,
    )
    assert (row.state, row.count, row.condition_text) == ("open", 1, "temp > 80")
    assert (entry.transition, entry.state_after, entry.value) == ("raised", "open", 85.0)
    row, run = evolve_alert(row, repeated(2, 90)) or (row, entry)
    assert (run.transition, run.count, row.repeat_run) == ("repeated", 1, run.key)
    row, run2 = evolve_alert(row, repeated(3, 95), run=run) or (row, entry)
    assert (run2.key, run2.count, run2.value, run2.last_at) == (
        run.key,
        2,
        95,
        T0 + timedelta(seconds=3),
    )
    assert (row.count, row.peak_value) == (3, 95)
    assert evolve_alert(row, repeated(3, 95), run=run2) is None  # replayed: the guard skips it
    acked = envelope(
        "Alert.Acknowledged", ALERT, 4, 4, actor="user:olga", note="on it", at=T0.isoformat()
    )
    row, ack = evolve_alert(row, acked) or (row, entry)
    assert (row.state, row.repeat_run, ack.note, ack.state_after) == (
        "acknowledged",
        None,
        "on it",
        "acknowledged",
    )
    row, run3 = evolve_alert(row, repeated(5, 99)) or (row, entry)
    assert run3.key != run.key
    assert run3.state_after == "acknowledged"
    escalated = envelope("Alert.Escalated", ALERT, 6, 6, severity="critical", at=T0.isoformat())
    row, esc = evolve_alert(row, escalated) or (row, entry)
    assert (row.severity, esc.severity, esc.transition) == ("critical", "critical", "escalated")
    resolved = envelope(
        "Alert.Resolved", ALERT, 7, 7, actor="system:auto", note="the rule was deleted",
        at=T0.isoformat(), auto=True, value=None,
    )  # fmt: skip
    row, end = evolve_alert(row, resolved) or (row, entry)
    assert (row.state, row.resolution, end.state_after) == ("resolved", "rule_deleted", "resolved")
    assert evolve_alert(None, repeated(2, 1)) is None  # nothing to repeat


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ({"kind": "threshold", "metric": "t", "op": "<=", "value": 1.5}, "t <= 1.5"),
        (
            {"kind": "for_duration", "metric": "t", "op": ">", "value": 8, "seconds": 60},
            "t > 8 for 60 s",
        ),
        ({"kind": "absence", "metric": None, "seconds": 300}, "no message for 300 s"),
        ({"kind": "absence", "metric": "t", "seconds": 30}, "no t reading for 30 s"),
        (
            {
                "kind": "rate_of_change",
                "metric": "t",
                "rate": 2,
                "per": "minute",
                "direction": "rising",
                "window_seconds": 120,
            },
            "t rising faster than 2/min over 120 s",
        ),
    ],
)
def test_condition_texts(condition: dict[str, Any], text: str) -> None:
    assert condition_text({"condition": condition}) == text
    assert condition_text(None) == "(unknown rule revision)"


class MemoryReader(AlertReader):
    def __init__(self) -> None:
        self.rules: dict[UUID, AlertRuleRow] = {}
        self.alerts: dict[UUID, AlertRow] = {}
        self.entries: dict[str, TimelineEntry] = {}
        self.names: dict[UUID, str] = {}

    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRuleRow | None:
        return self.rules.get(rule_id)

    def list_rules(
        self, tenant_id: str, criteria: RuleFilter, first: int, after: str | None
    ) -> Page[AlertRuleRow]:
        raise NotImplementedError

    def get_alert(self, tenant_id: str, alert_id: UUID) -> AlertRow | None:
        return self.alerts.get(alert_id)

    def list_alerts(
        self, tenant_id: str, criteria: AlertFilter, first: int, after: str | None
    ) -> Page[AlertRow]:
        raise NotImplementedError

    def timeline(
        self, tenant_id: str, criteria: TimelineFilter, first: int, after: str | None
    ) -> Page[TimelineEntry]:
        raise NotImplementedError

    def timeline_entry(self, tenant_id: str, key: str) -> TimelineEntry | None:
        return self.entries.get(key)

    def device_name(self, tenant_id: str, device_id: UUID) -> str | None:
        return self.names.get(device_id)


class MemoryView(AlertsView):
    def __init__(self, reader: MemoryReader) -> None:
        self.reader = reader
        self.commits: list[int] = []

    def commit(self, changes: AlertsChanges, tracking: Tracking) -> None:
        self.commits.append(tracking.notification_id)
        self.reader.rules |= {r.rule_id: r for r in changes.rules}
        self.reader.alerts |= {a.alert_id: a for a in changes.alerts}
        self.reader.entries |= {e.key: e for e in changes.entries}
        self.reader.names |= {d.device_id: d.name for d in changes.devices}

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.commits[-1] if self.commits else None

    def reset(self, application_name: str) -> None:
        self.commits.clear()


def test_a_batch_commits_once_and_notifies_each_transition_but_only_its_last_repeat() -> None:
    reader = MemoryReader()
    view = MemoryView(reader)
    projection = AlertsProjection(view, reader)
    device = envelope("Device.Registered", DEVICE, 1, name="pump-7", tenant_id="acme")
    created = envelope("AlertRule.Created", RULE, 1, tenant_id="acme", definition=DEFINITION)
    batch = [device, created, raised(), repeated(2, 90), repeated(3, 91)]
    for topic in (
        "write_side.devices:Device.Registered",
        "write_side.alert_rules:AlertRule.Created",
        "write_side.alerts:Alert.Repeated",
    ):
        assert projection.handles(topic)
    assert not projection.handles("write_side.telemetry_log:Telemetry.BatchRecorded")
    assert not projection.handles("write_side.devices:Device.Decommissioned")
    notices = projection.process_batch(batch, Tracking("Fleetwatch>alerts", 5))
    assert view.commits == [5]
    assert [(n.event_type, n.data["count"]) for n in notices] == [
        ("Alert.Raised", 1),
        ("Alert.Repeated", 3),
    ]
    assert reader.alerts[ALERT].device_name == "pump-7"
    assert [e.count for e in reader.entries.values()] == [1, 2]
    more = projection.process_batch([repeated(4, 92)], Tracking("Fleetwatch>alerts", 6))
    assert [e.count for e in reader.entries.values()] == [1, 3]
    assert more[0].data["repeat_run"] is not None
    assert projection.process_batch([repeated(4, 92)], Tracking("Fleetwatch>alerts", 7)) == []
    assert view.commits == [5, 6]  # a replayed event writes nothing


def test_cursors_codecs_and_choices() -> None:
    assert decode_cursor("t", encode_cursor("t", "2026#1")) == "2026#1"
    for bad in ("", "nonsense", encode_cursor("a", "x"), encode_cursor("t", "")):
        with pytest.raises(InvalidInput) as caught:
            decode_cursor("t", bad)
        assert caught.value.field == "after"
    made = evolve_alert(None, raised(), rule_row(), "pump-7")
    assert made is not None
    row, entry = made
    assert loads(AlertRow, dumps(row)) == row
    assert loads(TimelineEntry, dumps(entry)) == entry
    assert loads(AlertRuleRow, dumps(rule_row())).rule_id == RULE


def test_states_and_transitions_are_declared_once() -> None:
    """`write_side.alert_lifecycle` declares them; the aggregate and the read model use those
    very objects (no copies kept in step by hand), and evolve names one transition per alert
    event."""
    assert read_model.STATES is alert_lifecycle.STATES
    assert read_model.TRANSITIONS is alert_lifecycle.TRANSITIONS
    assert alerts.AlertStatus is alert_lifecycle.AlertStatus
    assert get_args(alert_lifecycle.AlertStatus) == alert_lifecycle.STATES
    assert set(alert_evolve.TRANSITIONS) == types(alerts.ALERT_EVENTS)
    assert sorted(alert_evolve.TRANSITIONS.values()) == sorted(alert_lifecycle.TRANSITIONS)
