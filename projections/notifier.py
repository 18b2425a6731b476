"""The notifier: a process manager that turns alert transitions into queued notifications
(docs/notifications.md section 11).

It follows the feed from its own checkpoint (`Fleetwatch>notifier`) and handles
`Alert.Raised`, `Alert.Escalated` and `Alert.Resolved` (the transitions that notify; an
acknowledgement notifies nobody). For each, it describes the alert as it was at that event (the
`Alert` aggregate loaded at the event's version, so a resolve carries the severity the alert had;
the rule's name at the alert's revision; the device's name), reads the tenant's users from the
users read model, plans the messages (`write_side.notifications.plan_notifications`: channels
per severity, addresses, quiet hours, dedup keys) and adds them to the outbox together with the
checkpoint (`Outbox.add(..., tracking=...)`; SQLite: one transaction; DynamoDB: rows first, then
the checkpoint). A crash before the checkpoint replays the batch, and the dedup keys make the
replayed rows no-ops: nothing is lost, nothing is queued twice.

Recipients must be at least as current as the alert: before planning a batch the notifier asks
`recipients_ready(position)` (wired to the users projection's worker) and, when the users model
is behind, fails the batch so the worker retries it from the checkpoint. Quiet hours are judged
at the notifier's clock (now), not at the event's time, so catching up on a backlog at night
does not wake anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from notifications.outbox import Outbox, utc_now
from read_side.notifications import ChangeNotice
from read_side.users import UserRow, UsersReader
from write_side.alert_rules import Absence, AlertRule, ForDuration, RateOfChange, RuleDefinition
from write_side.alerts import ALERT_EVENTS, Alert
from write_side.application import FleetApplication
from write_side.devices import Device
from write_side.errors import NotFound
from write_side.event_names import topics
from write_side.notifications import (
    TRANSITION_OF_EVENT,
    AlertTransition,
    PushTarget,
    Recipient,
    parse_preferences,
    plan_notifications,
)
from write_side.users import SEVERITIES, USER_PERSONAL_DATA_ERASED

log = logging.getLogger(__name__)

ALERT_TOPICS = topics(n for n in ALERT_EVENTS if n.type in TRANSITION_OF_EVENT)
ERASED_TOPIC = USER_PERSONAL_DATA_ERASED.topic


class RecipientsBehind(RuntimeError):
    """The users read model has not reached the batch's position yet (the worker retries)."""


class AlertDescriber(Protocol):
    def describe(self, envelope: EventEnvelope) -> AlertTransition | None:
        """The transition an alert event stands for; None when it notifies nobody."""


class StoredAlerts:
    """Describes alert events from the write side's aggregates, as they were at the event."""

    def __init__(self, app: FleetApplication) -> None:
        self.app = app

    def describe(self, envelope: EventEnvelope) -> AlertTransition | None:
        kind = TRANSITION_OF_EVENT.get(envelope.type)
        if kind is None:
            return None
        alert = self.app.find(Alert, None, UUID(envelope.stream_id), envelope.version)
        if alert is None:
            log.warning("notifier: alert %s not found; nobody notified", envelope.stream_id)
            return None
        if alert.severity not in SEVERITIES:
            return None
        rule = self._rule(alert)
        condition = f"{condition_text(rule)} on " if rule is not None else ""
        lines = [f"{condition}{self._device_name(alert)}"]
        payload = envelope.payload
        if kind == "resolved" and not payload.get("auto"):
            lines.append(f"Resolved by {payload.get('actor', 'someone')}")
        elif kind == "resolved":
            lines.append("Cleared automatically")
        if payload.get("value") is not None:
            lines.append(f"Value: {float(payload['value']):g}")
        if payload.get("note"):
            lines.append(f"Note: {payload['note']}")
        return AlertTransition(
            tenant_id=alert.tenant_id,
            alert_id=alert.id,
            kind=kind,
            severity=alert.severity,
            title=rule.name if rule is not None else f"rule {alert.rule_id}",
            detail="\n".join(lines),
        )

    def _rule(self, alert: Alert) -> RuleDefinition | None:
        """The rule's definition at the alert's revision (revision n is stream version n)."""
        rule = self.app.find(AlertRule, alert.tenant_id, alert.rule_id, alert.rule_revision)
        return None if rule is None else rule.definition

    def _device_name(self, alert: Alert) -> str:
        try:
            return self.app.load(Device, alert.tenant_id, alert.device_id).name
        except NotFound:
            return f"device {alert.device_id}"


def condition_text(rule: RuleDefinition) -> str:
    """A rule's raise condition in a few words, e.g. `temp > 80 for 60 s`."""
    c = rule.condition
    if isinstance(c, Absence):
        return f"no {c.metric or 'message'} for {c.seconds} s"
    if isinstance(c, RateOfChange):
        return f"{c.metric} changing faster than {c.rate:g} per {c.per}"
    text = f"{c.metric} {c.op} {c.value:g}"
    return f"{text} for {c.seconds} s" if isinstance(c, ForDuration) else text


def recipient_of(row: UserRow) -> Recipient:
    """What planning needs to know about a user of the read model."""
    return Recipient(
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        time_zone=row.time_zone,
        preferences=parse_preferences(row.preferences),
        email=row.email,
        phone_e164=row.phone_e164,
        push_targets=tuple(PushTarget(t.token, t.platform) for t in row.push_tokens),
    )


class NotifierProjection:
    """Run by a `BatchingProjectionWorker` (tracking name `Fleetwatch>notifier`)."""

    name = "notifier"

    def __init__(
        self,
        outbox: Outbox,
        users: UsersReader,
        alerts: AlertDescriber,
        *,
        recipients_ready: Callable[[int], bool] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.outbox, self.users, self.alerts = outbox, users, alerts
        self.recipients_ready = recipients_ready
        self.clock = clock
        self.topics = tuple(sorted((*ALERT_TOPICS, ERASED_TOPIC)))

    def handles(self, topic: str) -> bool:
        return topic in ALERT_TOPICS or topic == ERASED_TOPIC

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """Plan the batch's notifications and queue them with the checkpoint (also when there
        are none, so the checkpoint moves past the batch)."""
        position = tracking.notification_id
        if self.recipients_ready is not None and not self.recipients_ready(position):
            raise RecipientsBehind(f"the users read model has not reached position {position}")
        now = self.clock()
        recipients: dict[str, list[Recipient]] = {}
        planned = []
        for envelope in envelopes:
            if envelope.type == USER_PERSONAL_DATA_ERASED.type:
                # Before the batch's rows are added: none of them has the erased addresses
                # (the users model is past this batch); idempotent when the batch is replayed.
                self.outbox.forget_user(envelope.tenant_id, UUID(envelope.stream_id))
                continue
            alert = self.alerts.describe(envelope)
            if alert is None:
                continue
            if alert.tenant_id not in recipients:
                rows = self.users.tenant_users(alert.tenant_id)
                recipients[alert.tenant_id] = [recipient_of(row) for row in rows]
            planned += plan_notifications(alert, recipients[alert.tenant_id], now)
        added = self.outbox.add(planned, now, tracking=tracking)
        if planned:
            log.info(
                "notifier: %d notification(s) planned, %d new, up to position %d",
                len(planned),
                added,
                position,
            )
        return []
