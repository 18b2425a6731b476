"""Notifications end to end, on the embedded default with the workers and the dispatcher running
in the background (`system.start()`): users set their preferences over REST and GraphQL, an
alert is raised, the notifier queues one outbox row per user, channel and address, and the
dispatcher delivers each through a recording sender and marks it; a push token the provider
reports dead is removed from its user."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_token
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from fleetwatch.settings import Settings
from notifications.outbox import OutboxRow
from notifications.port import DeliveryResult, NotificationSender
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import RuleDefinition, Scope, Threshold
from write_side.alert_service import AlertService
from write_side.alerts import Alert
from write_side.commands import RegisterDevice
from write_side.notifications import Notification, dedup_key
from write_side.users import push_token_id, user_id_for

DEAD_TOKEN = "fcm-token-gone"


class RecordingSender(NotificationSender):
    """Accepts every message, except push to `DEAD_TOKEN` (the provider's UNREGISTERED)."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> DeliveryResult:
        with self._lock:
            self.sent.append(notification)
        if notification.address == DEAD_TOKEN:
            return DeliveryResult.failed("UNREGISTERED", address_invalid=True)
        return DeliveryResult.sent(f"rec-{len(self.sent)}")


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"notify_poll_interval": 0.05})


@pytest.fixture
def sender(api_system: System) -> RecordingSender:
    recording = RecordingSender()
    assert api_system.dispatcher is not None
    api_system.dispatcher.senders.update(email=recording, sms=recording, push=recording)
    return recording


def bearer(settings: Settings, subject: str, tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, subject, tenant, ['viewer'], 600)}"}


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def raise_alert(system: System, tenant: str) -> tuple[UUID, int]:
    meta = EventMetadata(tenant, "user:admin")
    device = system.device_service.register(RegisterDevice(name="pump-7", device_type="pump"), meta)
    definition = RuleDefinition(
        name="Pump too hot",
        scope=Scope(device_id=device.aggregate.id),
        severity="warning",
        condition=Threshold(metric="temp", op=">", value=80),
    )
    rule = AlertService(system.app).create_rule(CreateAlertRule(definition=definition), meta)
    alert = Alert.open(
        tenant_id=tenant,
        rule_id=rule.aggregate.id,
        rule_revision=1,
        device_id=device.aggregate.id,
        episode=1,
        severity="warning",
        value=91.0,
        at=datetime.now(UTC),
    )
    saved = system.app.commit(alert, EventMetadata(tenant, "system:alerting"))
    return alert.id, saved.position


def test_preferences_to_delivered_notifications(
    api_client: TestClient,
    api_system: System,
    api_settings: Settings,
    sender: RecordingSender,
) -> None:
    tenant, other = "tenant-flow-a", "tenant-flow-b"
    alice = bearer(api_settings, "alice", tenant)  # over REST
    ok(api_client.put("/users/me", json={"email": "alice@example.com"}, headers=alice))
    ok(
        api_client.put(
            "/users/me/preferences",
            json={"info": [], "warning": ["email", "push"], "critical": ["email"]},
            headers=alice,
        )
    )
    token = {"token": DEAD_TOKEN, "platform": "android"}
    ok(api_client.post("/users/me/device-tokens", json=token, headers=alice), 201)
    bob = bearer(api_settings, "bob", tenant)  # over GraphQL
    mutation = """mutation($p: String, $prefs: NotificationPreferencesInput!) {
        updateMyProfile(input: {phone: $p}) { version }
        setNotificationPreferences(input: $prefs) { version } }"""
    variables = {"p": "+4915112345678", "prefs": {"info": [], "warning": ["SMS"], "critical": []}}
    body = ok(
        api_client.post("/graphql", json={"query": mutation, "variables": variables}, headers=bob)
    )
    assert "errors" not in body, body
    erin = bearer(api_settings, "erin", other)  # another tenant: never notified
    ok(api_client.put("/users/me", json={"email": "erin@example.com"}, headers=erin))

    alert_id, position = raise_alert(api_system, tenant)
    assert api_system.wait_for(position, timeout=5)  # the notifier has queued its rows

    alice_id, bob_id = user_id_for(tenant, "alice"), user_id_for(tenant, "bob")

    def row(user_id: UUID, channel: str, target: str = "") -> OutboxRow | None:
        key = dedup_key(
            tenant_id=tenant,
            alert_id=alert_id,
            transition="raised",
            user_id=user_id,
            channel=channel,
            target=target,
        )
        assert api_system.outbox is not None
        return api_system.outbox.get(tenant, key)

    email, sms = row(alice_id, "email"), row(bob_id, "sms")
    push = row(alice_id, "push", push_token_id(DEAD_TOKEN))
    assert email is not None
    assert sms is not None
    assert push is not None
    assert email.notification.subject == "[WARNING] Alert: Pump too hot"

    def delivered() -> bool:
        marked = [
            row(alice_id, "email"),
            row(bob_id, "sms"),
            row(alice_id, "push", push_token_id(DEAD_TOKEN)),
        ]
        return all(r is not None and r.status in {"sent", "failed"} for r in marked)

    assert eventually(delivered), "the dispatcher did not deliver the queued notifications"
    final_email, final_sms = row(alice_id, "email"), row(bob_id, "sms")
    final_push = row(alice_id, "push", push_token_id(DEAD_TOKEN))
    assert final_email is not None
    assert (final_email.status, final_email.attempts) == ("sent", 1)
    assert final_email.provider_id is not None
    assert final_sms is not None
    assert final_sms.status == "sent"
    assert final_push is not None
    assert (final_push.status, final_push.last_error) == ("failed", "UNREGISTERED")
    assert sorted((n.channel, n.address) for n in sender.sent) == [
        ("email", "alice@example.com"),
        ("push", DEAD_TOKEN),
        ("sms", "+4915112345678"),
    ]
    assert {n.tenant_id for n in sender.sent} == {tenant}

    # The provider said the push token is dead: it is removed from alice (actor system:notifier).
    def tokens() -> list[Any]:
        me: list[Any] = ok(api_client.get("/users/me", headers=alice))["pushTokens"]
        return me

    assert eventually(lambda: tokens() == []), tokens()
    query = {"query": "{ me { pushTokens { id } } }"}
    assert eventually(
        lambda: (
            ok(api_client.post("/graphql", json=query, headers=alice))["data"]["me"]["pushTokens"]
            == []
        )
    )
