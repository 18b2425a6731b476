"""Which notifications an alert transition causes: pure planning over users' preferences.

No I/O. A `Notification` is one message to one address over one channel; adapters in the
top-level `notifications` package queue and deliver it. Rules:

- channels: the recipient's `preferences.channels[severity]` (the alert's severity at the
  transition; a resolve uses the severity the alert had); a channel without an address (no
  email, no phone, no push token) is skipped; push goes to every registered token.
- quiet hours (the recipient's IANA time zone, `end <= start` spans midnight, `days` are the days
  a period starts on): a message that falls inside is deferred, `deliver_after` = the end of the
  period, never dropped; critical messages go at once unless `critical_overrides_quiet_hours` is
  false. When an alert resolves while its deferred messages still wait, the outbox suppresses
  them and the resolve message (`superseded_keys`): nobody is woken up for a solved problem.
- `key` = SHA-256 of (tenant, alert id, transition, user id, channel, push token id): the same
  alert transition always yields the same keys, so a replay or retry never queues it twice.
  Email and SMS addresses are deliberately not part of the key: a user who changes their email
  between two replays still gets one message. An escalation's transition includes its new
  severity (an alert escalates to each severity at most once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, cast
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from write_side.alerts import ALERT_ESCALATED, ALERT_RAISED, ALERT_RESOLVED
from write_side.users import CHANNELS, SEVERITIES, Channel, Severity, push_token_id

Transition = Literal["raised", "escalated", "resolved"]
TRANSITION_OF_EVENT: Mapping[str, Transition] = {
    ALERT_RAISED.type: "raised",
    ALERT_ESCALATED.type: "escalated",
    ALERT_RESOLVED.type: "resolved",
}


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    days: frozenset[int] | None = None  # weekdays (0 = Monday) a period starts on; None: all

    def until(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """The end (UTC) of the quiet period containing `now`, or None outside quiet hours."""
        local_day = now.astimezone(zone).date()
        for start_day in (local_day - timedelta(days=1), local_day):
            if self.days is not None and start_day.weekday() not in self.days:
                continue
            end_day = start_day + timedelta(days=1) if self.end <= self.start else start_day
            # Compare in UTC: aware datetimes sharing a tzinfo compare by wall time.
            start = datetime.combine(start_day, self.start, zone).astimezone(UTC)
            end = datetime.combine(end_day, self.end, zone).astimezone(UTC)
            if start <= now < end:
                return end
        return None


@dataclass(frozen=True)
class Preferences:
    channels: Mapping[Severity, tuple[Channel, ...]]
    quiet_hours: QuietHours | None = None
    critical_overrides_quiet_hours: bool = True


@dataclass(frozen=True)
class PushTarget:
    token: str
    platform: str


@dataclass(frozen=True)
class Recipient:
    tenant_id: str
    user_id: UUID
    time_zone: str
    preferences: Preferences
    email: str | None = None
    phone_e164: str | None = None
    push_targets: tuple[PushTarget, ...] = ()


@dataclass(frozen=True)
class AlertTransition:
    """One alert event, as notifications describe it."""

    tenant_id: str
    alert_id: UUID
    kind: Transition
    severity: Severity  # at this transition (an escalation: the new severity)
    title: str  # e.g. the rule's name
    detail: str = ""  # e.g. "temp > 80 on pump-7 (last value 83.2)"


@dataclass(frozen=True)
class Notification:
    key: str
    tenant_id: str
    user_id: UUID
    channel: Channel
    severity: Severity
    subject: str
    body: str
    alert_id: UUID
    transition: Transition
    address: str  # email address, E.164 phone number or push token
    deliver_after: datetime | None = None  # set when deferred by quiet hours


def parse_preferences(document: Mapping[str, Any]) -> Preferences:
    """The `Preferences` of a `User.PreferencesChanged` document (unknown values ignored)."""
    channels = document.get("channels") or {}
    quiet = document.get("quiet_hours")
    return Preferences(
        channels={
            severity: tuple(cast(Channel, c) for c in channels.get(severity) or () if c in CHANNELS)
            for severity in SEVERITIES
        },
        quiet_hours=None
        if not quiet
        else QuietHours(
            start=time.fromisoformat(quiet["start"]),
            end=time.fromisoformat(quiet["end"]),
            days=None if quiet.get("days") is None else frozenset(quiet["days"]),
        ),
        critical_overrides_quiet_hours=bool(document.get("critical_overrides_quiet_hours", True)),
    )


def dedup_key(
    *,
    tenant_id: str,
    alert_id: UUID,
    transition: str,
    user_id: UUID,
    channel: str,
    target: str = "",
) -> str:
    """A stable key for one message: hex SHA-256 of its identifying parts."""
    name = f"{tenant_id}|{alert_id}|{transition}|{user_id}|{channel}|{target}"
    return hashlib.sha256(name.encode()).hexdigest()


def superseded_keys(notification: Notification) -> list[str]:
    """For a resolve: the keys of the same alert's earlier messages (raise, escalations) to the
    same user, channel and address, which it makes moot if they are still waiting."""
    if notification.transition != "resolved":
        return []
    target = push_token_id(notification.address) if notification.channel == "push" else ""
    return [
        dedup_key(
            tenant_id=notification.tenant_id,
            alert_id=notification.alert_id,
            transition=transition,
            user_id=notification.user_id,
            channel=notification.channel,
            target=target,
        )
        for transition in ("raised", "escalated:warning", "escalated:critical")
    ]


def plan_notifications(
    alert: AlertTransition, recipients: Iterable[Recipient], now: datetime
) -> list[Notification]:
    """The notifications `alert` causes for `recipients` at `now` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    subject, body = describe(alert)
    transition = alert.kind if alert.kind != "escalated" else f"escalated:{alert.severity}"
    planned: list[Notification] = []
    for recipient in recipients:
        if recipient.tenant_id != alert.tenant_id:
            continue
        deliver_after = _deferred_until(alert.severity, recipient, now)
        for channel in recipient.preferences.channels.get(alert.severity, ()):
            for target, address in _addresses(recipient, channel):
                key = dedup_key(
                    tenant_id=alert.tenant_id,
                    alert_id=alert.alert_id,
                    transition=transition,
                    user_id=recipient.user_id,
                    channel=channel,
                    target=target,
                )
                planned.append(
                    Notification(
                        key=key,
                        tenant_id=alert.tenant_id,
                        user_id=recipient.user_id,
                        channel=channel,
                        severity=alert.severity,
                        subject=subject,
                        body=body,
                        alert_id=alert.alert_id,
                        transition=alert.kind,
                        address=address,
                        deliver_after=deliver_after,
                    )
                )
    return planned


def describe(alert: AlertTransition) -> tuple[str, str]:
    """Subject and body of the messages about `alert`."""
    label = {"raised": "Alert", "escalated": "Alert escalated", "resolved": "Resolved"}[alert.kind]
    subject = f"[{alert.severity.upper()}] {label}: {alert.title}"
    lines = [alert.detail] if alert.detail else []
    lines.append(f"Alert {alert.alert_id}")
    return subject[:200], "\n".join(lines)


def _deferred_until(severity: Severity, recipient: Recipient, now: datetime) -> datetime | None:
    preferences = recipient.preferences
    if preferences.quiet_hours is None:
        return None
    if severity == "critical" and preferences.critical_overrides_quiet_hours:
        return None
    return preferences.quiet_hours.until(now, _zone(recipient.time_zone))


def _addresses(recipient: Recipient, channel: Channel) -> list[tuple[str, str]]:
    """(key target, address) pairs of `channel` for the recipient; empty when it has none."""
    if channel == "email":
        return [("", recipient.email)] if recipient.email else []
    if channel == "sms":
        return [("", recipient.phone_e164)] if recipient.phone_e164 else []
    return [(push_token_id(target.token), target.token) for target in recipient.push_targets]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
