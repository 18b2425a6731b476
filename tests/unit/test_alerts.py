"""The Alert aggregate: deterministic ids, lifecycle transitions, and immutability once resolved."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from write_side.alerts import AUTO_ACTOR, Alert, PeakMode, alert_id
from write_side.errors import AlertAlreadyAcknowledged, AlertAlreadyResolved, InvalidInput

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULE, DEVICE = uuid.uuid4(), uuid.uuid4()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_alert(episode: int = 1, peak_mode: PeakMode = "highest", value: float = 85) -> Alert:
    return Alert.open(
        tenant_id="acme",
        rule_id=RULE,
        rule_revision=3,
        device_id=DEVICE,
        episode=episode,
        severity="warning",
        value=value,
        at=at(0),
        peak_mode=peak_mode,
    )


def event_names(alert: Alert) -> list[str]:
    return [type(e).__qualname__ for e in alert.collect_events()]


def test_alert_ids_are_deterministic_per_episode() -> None:
    alert = new_alert()
    assert alert.id == alert_id("acme", RULE, DEVICE, 1) == new_alert().id
    assert new_alert(episode=2).id != alert.id
    assert alert_id("other", RULE, DEVICE, 1) != alert.id
    assert (alert.status, alert.count, alert.last_value, alert.peak) == ("open", 1, 85, 85)
    assert (alert.rule_id, alert.rule_revision, alert.device_id) == (RULE, 3, DEVICE)
    assert alert.raised_at == at(0)


def test_two_workers_opening_the_same_alert_collide_on_version_1() -> None:
    app: Application[uuid.UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.save(new_alert())
    with pytest.raises(IntegrityError):
        app.save(new_alert())
    stored: Alert = app.repository.get(alert_id("acme", RULE, DEVICE, 1))
    assert isinstance(stored, Alert)
    assert stored.version == 1


def test_open_acknowledge_resolve_records_every_transition() -> None:
    alert = new_alert()
    alert.repeat(90, at(1))
    alert.acknowledge("user:alice", at(2), note="looking")
    alert.repeat(88, at(3))  # still counted while acknowledged
    alert.resolve("user:bob", at(4), note="fixed the fan")
    assert (alert.status, alert.count, alert.last_value, alert.peak) == ("resolved", 3, 88, 90)
    assert (alert.acknowledged_by, alert.acknowledged_at) == ("user:alice", at(2))
    assert (alert.resolved_by, alert.resolved_at, alert.auto_resolved) == ("user:bob", at(4), False)
    assert alert.notes == ["looking", "fixed the fan"]
    events = alert.collect_events()
    assert [type(e).__qualname__ for e in events] == [
        "Alert.Raised",
        "Alert.Repeated",
        "Alert.Acknowledged",
        "Alert.Repeated",
        "Alert.Resolved",
    ]
    for e in events:
        state = {k: v for k, v in vars(e).items() if k not in ("originator_id", "timestamp")}
        json.dumps(state)  # events hold JSON values only
    assert vars(events[3]) | {"count": 3, "peak": 90} == vars(events[3])
    replayed: Alert | None = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed is not None
    assert vars(replayed) == vars(alert)


def test_an_open_alert_can_be_resolved_directly() -> None:
    alert = new_alert()
    alert.resolve("user:alice", at(1))
    assert alert.status == "resolved"
    assert alert.acknowledged_by is None


def test_auto_resolution_records_the_system_actor_and_the_clearing_value() -> None:
    alert = new_alert()
    alert.acknowledge("user:alice", at(1))
    assert alert.auto_resolve(at(5), 70.0, note="cleared") is True
    assert (alert.status, alert.resolved_by, alert.auto_resolved) == ("resolved", AUTO_ACTOR, True)
    assert alert.last_value == 70.0
    assert alert.auto_resolve(at(6), 60.0) is False  # already resolved: a no-op
    assert event_names(alert)[-1] == "Alert.Resolved"
    assert alert.version == 3


@pytest.mark.parametrize(
    "action",
    [
        lambda a: a.repeat(1, at(9)),
        lambda a: a.acknowledge("user:x", at(9)),
        lambda a: a.resolve("user:x", at(9)),
        lambda a: a.escalate("critical", at(9)),
    ],
)
def test_a_resolved_alert_is_immutable(action: Any) -> None:
    alert = new_alert()
    alert.resolve("user:alice", at(1))
    version = alert.version
    with pytest.raises(AlertAlreadyResolved) as caught:
        action(alert)
    assert caught.value.code == "ALERT_RESOLVED"
    assert alert.version == version


def test_acknowledging_twice_is_an_error_and_the_first_acknowledgement_stands() -> None:
    alert = new_alert()
    alert.acknowledge("user:alice", at(1))
    with pytest.raises(AlertAlreadyAcknowledged) as caught:
        alert.acknowledge("user:bob", at(2))
    assert caught.value.code == "ALERT_ACKNOWLEDGED"
    assert alert.acknowledged_by == "user:alice"
    assert alert.version == 2


def test_peak_follows_the_worse_direction() -> None:
    low = new_alert(peak_mode="lowest", value=5)
    low.repeat(3, at(1))
    low.repeat(4, at(2))
    assert (low.peak, low.last_value, low.count) == (3, 4, 3)
    absence = Alert.open(
        tenant_id="acme", rule_id=RULE, rule_revision=1, device_id=DEVICE, episode=1,
        severity="critical", value=None, at=at(0),
    )  # fmt: skip
    assert absence.peak is None
    absence.repeat(7, at(1))
    assert absence.peak == 7


def test_escalation_only_goes_up() -> None:
    alert = new_alert()
    assert alert.escalate("info", at(1)) is False
    assert alert.escalate("warning", at(1)) is False
    assert alert.escalate("critical", at(2)) is True
    assert alert.severity == "critical"
    assert event_names(alert) == ["Alert.Raised", "Alert.Escalated"]
    with pytest.raises(InvalidInput):
        alert.escalate("fatal", at(3))


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(InvalidInput):
        new_alert(episode=0)
    alert = new_alert()
    with pytest.raises(InvalidInput):
        alert.acknowledge(" ", at(1))
    with pytest.raises(InvalidInput):
        alert.resolve("user:alice", at(1), note="x" * 2001)
    assert alert.version == 1
