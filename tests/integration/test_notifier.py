"""The notifier on SQLite and on DynamoDB Local (never moto), through the composition root's
wiring: alert transitions become outbox rows per user, channel and address as the users read
model says; replays and restarts never queue a row twice; quiet hours defer, a resolve
suppresses what still waits; recipients are never older than the alert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

import fleetwatch.consumers
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from notifications.outbox import COLUMNS, TABLE, OutboxRow, from_record
from notifications.outbox_dynamodb import DynamoDBOutbox
from projections.notifier import RecipientsBehind
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import RuleDefinition, Scope, Threshold
from write_side.alert_service import AlertService
from write_side.alerts import Alert
from write_side.commands import RegisterDevice
from write_side.notifications import dedup_key
from write_side.user_commands import (
    QuietHours,
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.users import push_token_id, user_id_for

TENANT, OTHER = "acme", "globex"
SystemFactory = Callable[[], System]


@pytest.fixture(params=["sqlite", "dynamodb"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(
            store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3", run_projections=False
        )
    return Settings(
        store="dynamodb",
        dynamodb_endpoint_url=request.getfixturevalue("dynamodb_endpoint"),
        dynamodb_table_prefix=request.getfixturevalue("table_prefix"),
        run_projections=False,
    )


@pytest.fixture
def systems(settings: Settings) -> Iterator[SystemFactory]:
    """Builds systems on the same store (a second one is a restart); workers are driven by
    `catch_up` in the test's thread, never started."""
    built: list[System] = []

    def make() -> System:
        built.append(build_system(settings))
        return built[-1]

    yield make
    for system in built:
        system.close()


@pytest.fixture
def system(systems: SystemFactory) -> System:
    return systems()


def catch_up(system: System) -> None:
    system.workers["users"].catch_up()
    system.workers["notifier"].catch_up()


def user(
    system: System,
    subject: str,
    *,
    tenant: str = TENANT,
    email: str | None = None,
    phone: str | None = None,
    tokens: tuple[str, ...] = (),
    **preferences: Any,
) -> UUID:
    meta = EventMetadata(tenant, f"user:{subject}")
    profile = {"email": email, "phone_e164": phone}
    system.user_service.update_my_profile(subject, UpdateMyProfile(**profile), meta)
    if preferences:
        command = SetNotificationPreferences(**preferences)
        system.user_service.set_notification_preferences(subject, command, meta)
    for token in tokens:
        system.user_service.register_push_token(
            subject, RegisterPushToken(token=token, platform="ios"), meta
        )
    return user_id_for(tenant, subject)


def rule_and_device(system: System, tenant: str = TENANT) -> tuple[UUID, UUID]:
    meta = EventMetadata(tenant, "user:admin")
    device = system.device_service.register(RegisterDevice(name="pump-7", device_type="pump"), meta)
    definition = RuleDefinition(
        name="Pump too hot",
        scope=Scope(device_id=device.aggregate.id),
        severity="warning",
        condition=Threshold(metric="temp", op=">", value=80),
    )
    rule = AlertService(system.app).create_rule(CreateAlertRule(definition=definition), meta)
    return rule.aggregate.id, device.aggregate.id


def raise_alert(system: System, severity: str = "warning", episode: int = 1) -> UUID:
    rule_id, device_id = rule_and_device(system)
    alert = Alert.open(
        tenant_id=TENANT,
        rule_id=rule_id,
        rule_revision=1,
        device_id=device_id,
        episode=episode,
        severity=severity,
        value=83.5,
        at=datetime.now(UTC),
    )
    system.app.commit(alert, EventMetadata(TENANT, "system:alerting"))
    return alert.id


def change_alert(system: System, alert_id: UUID, change: Callable[[Alert], object]) -> None:
    alert: Alert = system.app.repository.get(alert_id)
    change(alert)
    system.app.commit(alert, EventMetadata(TENANT, "user:operator"))


def key(
    alert_id: UUID, user_id: UUID, channel: str, transition: str = "raised", target: str = ""
) -> str:
    return dedup_key(
        tenant_id=TENANT,
        alert_id=alert_id,
        transition=transition,
        user_id=user_id,
        channel=channel,
        target=target,
    )


def outbox_rows(system: System) -> dict[str, OutboxRow]:
    """Every row of the outbox, by dedup key."""
    outbox = system.outbox
    if isinstance(outbox, DynamoDBOutbox):
        items = outbox.client.scan(TableName=outbox.table, ConsistentRead=True)["Items"]
        records = [{k: v.get("S", v.get("N")) for k, v in item.items()} for item in items]
        for record in records:
            record["attempts"] = int(record["attempts"])
    else:
        with outbox.datastore.transaction(commit=False) as c:  # type: ignore[union-attr]
            c.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}")
            records = [dict(zip(COLUMNS, row, strict=True)) for row in c.fetchall()]
    rows = [from_record(record) for record in records]
    return {row.notification.key: row for row in rows}


def test_a_raise_queues_one_row_per_user_channel_and_address(system: System) -> None:
    alice = user(
        system, "alice", email="alice@example.com", phone="+4915112345678", warning=["email", "sms"]
    )
    bob = user(system, "bob", tokens=("tok-a", "tok-b"), warning=["push", "email"])  # no email
    user(system, "carol")  # default preferences (warning: email) but no address
    user(system, "dave", email="dave@example.com", warning=[])
    user(system, "erin", tenant=OTHER, email="erin@example.com", warning=["email"])
    alert_id = raise_alert(system)

    catch_up(system)

    rows = outbox_rows(system)
    assert set(rows) == {
        key(alert_id, alice, "email"),
        key(alert_id, alice, "sms"),
        key(alert_id, bob, "push", target=push_token_id("tok-a")),
        key(alert_id, bob, "push", target=push_token_id("tok-b")),
    }
    email = rows[key(alert_id, alice, "email")]
    assert (email.status, email.notification.deliver_after) == ("pending", None)
    assert email.notification.address == "alice@example.com"
    assert email.notification.subject == "[WARNING] Alert: Pump too hot"
    assert "temp > 80 on pump-7" in email.notification.body
    assert "Value: 83.5" in email.notification.body
    assert rows[key(alert_id, alice, "sms")].notification.address == "+4915112345678"
    assert {r.notification.address for r in rows.values() if r.notification.channel == "push"} == {
        "tok-a",
        "tok-b",
    }


def test_escalation_and_resolve_follow_the_severity_the_alert_had(system: System) -> None:
    alice = user(
        system,
        "alice",
        email="alice@example.com",
        phone="+4915112345678",
        warning=["email"],
        critical=["sms"],
    )
    alert_id = raise_alert(system)
    change_alert(system, alert_id, lambda a: a.escalate("critical", datetime.now(UTC)))
    change_alert(system, alert_id, lambda a: a.resolve("user:op", datetime.now(UTC), "fixed"))

    catch_up(system)

    rows = outbox_rows(system)
    assert set(rows) == {
        key(alert_id, alice, "email"),
        key(alert_id, alice, "sms", transition="escalated:critical"),
        key(alert_id, alice, "sms", transition="resolved"),
    }
    resolved = rows[key(alert_id, alice, "sms", transition="resolved")].notification
    assert resolved.severity == "critical"
    assert resolved.subject == "[CRITICAL] Resolved: Pump too hot"
    assert "Resolved by user:op" in resolved.body
    assert "Note: fixed" in resolved.body


def test_replays_and_restarts_never_queue_a_row_twice(
    system: System, systems: SystemFactory, settings: Settings
) -> None:
    alice = user(system, "alice", email="alice@example.com", warning=["email"], critical=["email"])
    first = raise_alert(system)
    catch_up(system)
    assert system.dispatcher is not None
    assert system.dispatcher.drain().sent == 1  # the default: a log line, marked sent
    tracking_name = system.workers["notifier"].tracking_name
    checkpoint = system.workers["notifier"].checkpoint()
    assert checkpoint > 0

    # A crash after the rows but before the checkpoint: the batch is replayed.
    _forget_checkpoint(system, tracking_name)
    replayed = systems()
    assert replayed.workers["notifier"].checkpoint() == 0
    catch_up(replayed)
    rows = outbox_rows(replayed)
    assert list(rows) == [key(first, alice, "email")]
    assert rows[key(first, alice, "email")].status == "sent"  # not queued again
    assert rows[key(first, alice, "email")].attempts == 1
    assert replayed.workers["notifier"].checkpoint() == checkpoint

    # A restart resumes after its checkpoint: only the new transition is queued.
    change_alert(replayed, first, lambda a: a.escalate("critical", datetime.now(UTC)))
    restarted = systems()
    catch_up(restarted)
    assert set(outbox_rows(restarted)) == {
        key(first, alice, "email"),
        key(first, alice, "email", transition="escalated:critical"),
    }
    assert restarted.dispatcher is not None
    assert restarted.dispatcher.drain().sent == 1


def test_quiet_hours_defer_critical_overrides_and_a_resolve_suppresses(system: System) -> None:
    now = datetime.now(UTC)
    quiet = QuietHours(
        start=(now - timedelta(hours=1)).strftime("%H:%M"),
        end=(now + timedelta(hours=2)).strftime("%H:%M"),
    )
    alice = user(
        system,
        "alice",
        email="alice@example.com",
        warning=["email"],
        critical=["email"],
        quiet_hours=quiet,
    )
    warning = raise_alert(system, "warning", episode=1)
    critical = raise_alert(system, "critical", episode=2)

    catch_up(system)

    rows = outbox_rows(system)
    deferred = rows[key(warning, alice, "email")]
    assert deferred.status == "pending"
    assert deferred.notification.deliver_after is not None
    assert now + timedelta(minutes=59) < deferred.next_attempt_at <= now + timedelta(hours=2)
    urgent = rows[key(critical, alice, "email")]
    assert urgent.notification.deliver_after is None  # critical overrides quiet hours
    assert system.dispatcher is not None
    stats = system.dispatcher.drain()
    assert (stats.claimed, stats.sent) == (1, 1)  # only the critical one is due
    assert outbox_rows(system)[key(warning, alice, "email")].status == "pending"

    # Resolved while the warning still waits: nobody is woken for a solved problem.
    change_alert(system, warning, lambda a: a.resolve("user:op", datetime.now(UTC)))
    catch_up(system)
    rows = outbox_rows(system)
    assert rows[key(warning, alice, "email")].status == "suppressed"
    assert rows[key(warning, alice, "email", transition="resolved")].status == "suppressed"
    assert rows[key(critical, alice, "email")].status == "sent"
    assert system.dispatcher.drain().claimed == 0


def test_the_notifier_waits_for_recipients_as_new_as_the_alert(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleetwatch.consumers, "RECIPIENTS_TIMEOUT", 0.05)
    alice = user(system, "alice", email="alice@example.com", warning=["email"])
    alert_id = raise_alert(system)

    with pytest.raises(RecipientsBehind):
        system.workers["notifier"].catch_up()  # the users model has not seen alice yet
    assert outbox_rows(system) == {}
    assert system.workers["notifier"].checkpoint() == 0

    catch_up(system)
    assert set(outbox_rows(system)) == {key(alert_id, alice, "email")}


def test_the_users_model_follows_user_events_and_rebuilds_to_the_same_rows(
    system: System,
) -> None:
    alice = user(system, "alice", email="alice@example.com", tokens=("t1", "t2"), info=["push"])
    meta = EventMetadata(TENANT, "user:alice")
    system.user_service.update_my_profile("alice", UpdateMyProfile(email=None, locale="de"), meta)
    system.user_service.remove_push_token(
        alice, RemovePushToken(token_id=push_token_id("t1")), meta
    )
    system.workers["users"].catch_up()
    assert system.users is not None
    row = system.users.get(TENANT, alice)
    assert row is not None
    assert (row.email, row.locale, row.version) == (None, "de", 7)
    assert [t.token for t in row.push_tokens] == ["t2"]
    assert row.preferences["channels"]["info"] == ["push"]
    before = system.users.tenant_users(TENANT)

    assert system.rebuild("users") > 0
    assert system.users.tenant_users(TENANT) == before
    assert system.users.tenant_users(OTHER) == []


def _forget_checkpoint(system: System, tracking_name: str) -> None:
    outbox = system.outbox
    if isinstance(outbox, DynamoDBOutbox):
        outbox.delete_tracking(tracking_name)
        return
    with outbox.datastore.transaction(commit=True) as c:  # type: ignore[union-attr]
        c.execute("DELETE FROM tracking WHERE application_name = ?", (tracking_name,))
