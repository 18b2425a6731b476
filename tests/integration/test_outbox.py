"""The notification outbox on SQLite and on DynamoDB Local (never moto): duplicate keys are
no-ops, deferred rows wait, and the dispatcher delivers at least once through a failing sender,
a crash mid-send and two concurrent dispatchers."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBFactory
from event_store.envelope import EventMetadata
from notifications.dispatcher import Backoff, Dispatcher
from notifications.outbox import Outbox, OutboxSender
from notifications.outbox_dynamodb import DynamoDBOutbox
from notifications.outbox_sqlite import SQLiteOutbox
from notifications.port import DeliveryResult, NotificationSender
from notifications.wiring import build_dispatcher, build_outbox, build_senders
from write_side.application import FleetApplication
from write_side.notifications import (
    AlertTransition,
    Notification,
    PushTarget,
    Recipient,
    dedup_key,
    parse_preferences,
    plan_notifications,
)
from write_side.user_commands import RegisterPushToken, SetNotificationPreferences
from write_side.user_service import UserService, recipient_of

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALERT = UUID("00000000-0000-4000-8000-0000000000a1")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedSender(NotificationSender):
    """Answers from a script (then `sent`), and records every call."""

    def __init__(self, *script: DeliveryResult | Exception) -> None:
        self.script = list(script)
        self.calls: list[Notification] = []
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> DeliveryResult:
        with self._lock:
            self.calls.append(notification)
            step = self.script.pop(0) if self.script else DeliveryResult.sent("p-1")
        if isinstance(step, Exception):
            raise step
        return step


def note(i: int = 0, channel: str = "email", **overrides: object) -> Notification:
    user = UUID(int=i + 1)
    base = Notification(
        key=dedup_key(
            tenant_id="acme", alert_id=ALERT, transition="raised", user_id=user, channel=channel
        ),
        tenant_id="acme",
        user_id=user,
        channel=channel,  # type: ignore[arg-type]
        severity="warning",
        subject="[WARNING] Alert: hot",
        body="temp > 80",
        alert_id=ALERT,
        transition="raised",
        address=f"user{i}@example.com",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def outbox(app: FleetApplication) -> Outbox:
    built = build_outbox(app)
    expected = DynamoDBOutbox if isinstance(app.factory, DynamoDBFactory) else SQLiteOutbox
    assert type(built) is expected
    return built


def dispatcher(
    outbox: Outbox, sender: NotificationSender, clock: Clock, **kw: object
) -> Dispatcher:
    return Dispatcher(
        outbox,
        {"email": sender, "sms": sender, "push": sender},
        backoff=Backoff(base_seconds=30, factor=2, max_attempts=4),
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def test_a_duplicate_key_is_a_no_op(outbox: Outbox) -> None:
    assert outbox.add([note(0), note(1)], T0) == 2
    assert outbox.add([note(0), note(2)], T0 + timedelta(hours=1)) == 1
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert (row.status, row.attempts, row.created_at) == ("pending", 0, T0)
    assert row.notification == note(0)
    assert outbox.get("other", note(0).key) is None


def test_a_sent_row_is_not_reset_by_a_replayed_insert(outbox: Outbox) -> None:
    clock = Clock()
    outbox.add([note(0)], T0)
    sender = ScriptedSender()
    assert dispatcher(outbox, sender, clock).drain().sent == 1
    assert outbox.add([note(0)], T0) == 0  # e.g. the notifier replays after a crash
    assert dispatcher(outbox, sender, clock).drain().claimed == 0
    assert len(sender.calls) == 1


def test_the_default_sender_queues_once_and_logs(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    sender = OutboxSender(outbox, clock=lambda: T0)
    with caplog.at_level("INFO", logger="notifications.outbox"):
        assert sender.send(note(0)).outcome == "sent"
        assert sender.send(note(0)).outcome == "duplicate"
    assert "queued notification" in caplog.text
    assert "already holds" in caplog.text
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert row.status == "pending"


def test_deferred_rows_wait_for_deliver_after(outbox: Outbox) -> None:
    clock = Clock()
    morning = T0 + timedelta(hours=8)
    outbox.add([note(0, deliver_after=morning), note(1)], T0)
    sender = ScriptedSender()
    assert dispatcher(outbox, sender, clock).drain().sent == 1
    assert [n.key for n in sender.calls] == [note(1).key]
    clock.now = morning
    assert dispatcher(outbox, sender, clock).drain().sent == 1
    assert sender.calls[-1].key == note(0).key
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert (row.status, row.sent_at, row.notification.deliver_after) == ("sent", morning, morning)


def test_at_least_once_through_a_failing_sender_then_recovery(outbox: Outbox) -> None:
    clock = Clock()
    outbox.add([note(0)], T0)
    sender = ScriptedSender(
        DeliveryResult.retry("Throttling: slow down"),
        ConnectionError("network down"),  # a sender that raises counts as transient
        DeliveryResult.retry("busy", retry_after=300),
        DeliveryResult.sent("provider-42"),
    )
    d = dispatcher(outbox, sender, clock)
    assert d.run_once().retried == 1
    assert d.run_once().claimed == 0  # not due before the backoff (30 s)
    clock.advance(30)
    assert d.run_once().retried == 1
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert (row.status, row.attempts) == ("retrying", 2)
    assert row.next_attempt_at == clock.now + timedelta(seconds=60)  # 30 s x 2
    assert row.last_error is not None
    assert "network down" in row.last_error
    clock.advance(60)
    assert d.run_once().retried == 1  # Retry-After 300 s beats the 120 s backoff
    clock.advance(299)
    assert d.run_once().claimed == 0
    clock.advance(1)
    assert d.run_once().sent == 1
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert (row.status, row.attempts, row.provider_id) == ("sent", 4, "provider-42")
    assert {n.key for n in sender.calls} == {note(0).key}
    assert len(sender.calls) == 4


def test_a_crash_mid_send_resends_after_the_lease_and_stale_marks_lose(outbox: Outbox) -> None:
    clock = Clock()
    outbox.add([note(0)], T0)
    (crashed,) = outbox.claim_due(clock(), 10, timedelta(seconds=60))  # then the process died
    sender = ScriptedSender()
    d = dispatcher(outbox, sender, clock)
    assert d.run_once().claimed == 0  # leased
    clock.advance(60)
    assert d.run_once().sent == 1
    assert outbox.mark_retry(crashed, clock.now, "late") is False  # the dead claim is fenced
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert (row.status, row.attempts) == ("sent", 2)


def test_permanent_failure_and_dead_addresses(outbox: Outbox) -> None:
    clock = Clock()
    outbox.add([note(0, channel="push", address="dead-token"), note(1)], T0)
    dead: list[Notification] = []
    sender = ScriptedSender(
        DeliveryResult.failed("FCM 404 UNREGISTERED", address_invalid=True),
        DeliveryResult.failed("MessageRejected: no"),
    )
    stats = dispatcher(outbox, sender, clock, on_address_invalid=dead.append).drain()
    assert (stats.failed, stats.sent) == (2, 0)
    assert [n.address for n in dead] == ["dead-token"]
    row = outbox.get("acme", note(1).key)
    assert row is not None
    assert (row.status, row.last_error) == ("failed", "MessageRejected: no")


def test_retries_end_after_max_attempts(outbox: Outbox) -> None:
    clock = Clock()
    outbox.add([note(0)], T0)
    sender = ScriptedSender(*[DeliveryResult.retry("down")] * 10)
    d = dispatcher(outbox, sender, clock)
    for _ in range(6):
        d.run_once()
        clock.advance(3600)
    row = outbox.get("acme", note(0).key)
    assert row is not None
    assert (row.status, row.attempts) == ("failed", 4)
    assert len(sender.calls) == 4


def test_rows_and_checkpoint_are_recorded_together(outbox: Outbox) -> None:
    name = f"Fleetwatch>notifier-{uuid4().hex[:6]}"
    assert outbox.add([note(0), note(1)], T0, tracking=Tracking(name, 7)) == 2
    assert outbox.max_tracking_id(name) == 7  # type: ignore[attr-defined]


def test_two_dispatchers_never_claim_the_same_row(outbox: Outbox) -> None:
    clock = Clock()
    outbox.add([note(i) for i in range(24)], T0)
    sender = ScriptedSender()
    pair = [dispatcher(outbox, sender, clock), dispatcher(outbox, sender, clock)]
    barrier = threading.Barrier(2)

    def run(d: Dispatcher) -> None:
        barrier.wait()
        d.drain()

    threads = [threading.Thread(target=run, args=(d,)) for d in pair]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    counts = Counter(n.key for n in sender.calls)
    assert len(counts) == 24
    assert set(counts.values()) == {1}


def test_the_dispatcher_thread_delivers(outbox: Outbox) -> None:
    outbox.add([note(0)], datetime.now(UTC))
    delivered = threading.Event()

    class Signal(ScriptedSender):
        def send(self, notification: Notification) -> DeliveryResult:
            delivered.set()
            return super().send(notification)

    d = Dispatcher(outbox, {"email": Signal()})
    d.start(interval=0.05)
    try:
        assert delivered.wait(5)
    finally:
        d.stop()


def test_planned_push_to_a_dead_token_removes_it_from_the_user(
    app: FleetApplication, outbox: Outbox
) -> None:
    """Users -> planning -> outbox -> dispatcher -> provider says UNREGISTERED -> token gone."""
    meta = EventMetadata("acme", "user:alice")
    users = UserService(app)
    prefs = SetNotificationPreferences(critical=["push"])
    users.set_notification_preferences("alice", prefs, meta)
    users.register_push_token("alice", RegisterPushToken(token="dead-token", platform="ios"), meta)
    live = RegisterPushToken(token="live-token", platform="android")
    user = users.register_push_token("alice", live, meta).aggregate
    alert = AlertTransition("acme", ALERT, "raised", "critical", "Boiler too hot")
    planned = plan_notifications(alert, [recipient_of(user)], T0)
    assert outbox.add(planned, T0) == 2
    assert outbox.add(plan_notifications(alert, [recipient_of(user)], T0), T0) == 0

    class FakeFCM(NotificationSender):
        def send(self, notification: Notification) -> DeliveryResult:
            if notification.address == "dead-token":
                return DeliveryResult.failed("FCM 404 UNREGISTERED", address_invalid=True)
            return DeliveryResult.sent("m-1")

    dispatcher = build_dispatcher(app, outbox, {"push": FakeFCM()})
    dispatcher.clock = Clock()
    assert (dispatcher.drain().sent, dispatcher.drain().claimed) == (1, 0)
    tokens = [t.token for t in users.get("acme", user.id).push_tokens.values()]
    assert tokens == ["live-token"]


def test_build_senders_checks_its_settings() -> None:
    assert build_senders(["log"], region="us-east-1") == {}
    with pytest.raises(ValueError, match="unknown"):
        build_senders(["pigeon"], region="us-east-1")
    with pytest.raises(ValueError, match="From address"):
        build_senders(["ses"], region="us-east-1")
    senders = build_senders(["ses", "sns"], region="us-east-1", ses_from="a@b.example")
    assert sorted(senders) == ["email", "sms"]


def night_owl() -> Recipient:
    """Email and push for warnings; quiet 22:00-07:00 UTC."""
    document = {
        "channels": {"warning": ["email", "push"]},
        "quiet_hours": {"start": "22:00", "end": "07:00", "days": None},
    }
    return Recipient(
        tenant_id="acme",
        user_id=UUID(int=42),
        time_zone="UTC",
        preferences=parse_preferences(document),
        email="owl@example.com",
        push_targets=(PushTarget("tok-1", "ios"),),
    )


def transition(kind: str) -> AlertTransition:
    return AlertTransition("acme", ALERT, kind, "warning", "Boiler too hot")  # type: ignore[arg-type]


def test_a_resolve_during_quiet_hours_suppresses_the_deferred_raise(outbox: Outbox) -> None:
    clock = Clock()
    clock.now = datetime(2024, 5, 1, 23, 0, tzinfo=UTC)
    raised = plan_notifications(transition("raised"), [night_owl()], clock.now)
    assert outbox.add(raised, clock.now) == 2
    clock.advance(1800)
    resolved = plan_notifications(transition("resolved"), [night_owl()], clock.now)
    assert outbox.add(resolved, clock.now) == 2
    statuses = {
        n.key: getattr(outbox.get("acme", n.key), "status", None) for n in raised + resolved
    }
    assert set(statuses.values()) == {"suppressed"}
    clock.now = datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    sender = ScriptedSender()
    assert dispatcher(outbox, sender, clock).drain().claimed == 0
    assert sender.calls == []


def test_a_resolve_after_the_raise_went_out_is_sent(outbox: Outbox) -> None:
    clock = Clock()
    clock.now = datetime(2024, 5, 1, 23, 0, tzinfo=UTC)
    outbox.add(plan_notifications(transition("raised"), [night_owl()], clock.now), clock.now)
    clock.now = datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    sender = ScriptedSender()
    assert dispatcher(outbox, sender, clock).drain().sent == 2  # delivered when quiet ends
    clock.advance(60)
    resolved = plan_notifications(transition("resolved"), [night_owl()], clock.now)
    assert outbox.add(resolved, clock.now) == 2
    assert dispatcher(outbox, sender, clock).drain().sent == 2
    assert [n.transition for n in sender.calls] == ["raised", "raised", "resolved", "resolved"]


def test_an_erased_user_s_rows_lose_their_address_and_stop_waiting(outbox: Outbox) -> None:
    """docs/audit.md 19.7: the delivery log keeps the row, not the address; a row still
    waiting is never sent; other users' rows are untouched."""
    clock = Clock()
    sms = note(0, channel="sms", address="+4915112345678")
    outbox.add([note(0)], T0)
    assert dispatcher(outbox, ScriptedSender(), clock).drain().sent == 1  # the email went
    outbox.add([sms, note(1)], T0)
    assert outbox.forget_user("other", UUID(int=1)) == 0
    assert outbox.forget_user("acme", UUID(int=1)) == 2
    sent, waiting = outbox.get("acme", note(0).key), outbox.get("acme", sms.key)
    assert sent is not None
    assert waiting is not None
    assert (sent.status, sent.notification.address) == ("sent", "")
    assert (waiting.status, waiting.notification.address) == ("suppressed", "")
    other = outbox.get("acme", note(1).key)
    assert other is not None
    assert (other.status, other.notification.address) == ("pending", "user1@example.com")
    sender = ScriptedSender()
    assert dispatcher(outbox, sender, clock).drain().sent == 1
    assert [n.key for n in sender.calls] == [note(1).key]
    assert outbox.forget_user("acme", UUID(int=1)) == 2  # again: the same, nothing new
