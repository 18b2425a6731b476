"""The notification outbox: the default sender queues every notification as a row keyed by its
dedup key (a second insert of the same key is a no-op) and logs a line; the dispatcher then
delivers due rows at least once.

Row lifecycle: `pending` (or deferred by quiet hours: `next_attempt_at` = `deliver_after`) ->
claimed as `sending` with a lease (attempts + 1) -> `sent` | `retrying` (due again later) |
`failed`. A `sending` row whose lease expired is due again (its sender died mid-send). Marks are
conditional on the claim (status `sending` and the same attempt number), so a dispatcher that
lost its lease cannot overwrite a newer outcome. Adding a resolve while the same alert's
messages to that address are still deferred (pending, not yet due) marks them and the resolve
`suppressed` instead.

Adapters: `SQLiteOutbox` (table `notification_outbox` in the event-store file, sharing the
library's SQLite datastore) and `notifications.outbox_dynamodb.DynamoDBOutbox`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast
from uuid import UUID

from eventsourcing.persistence import Tracking

from notifications.port import DeliveryResult, NotificationSender
from write_side.notifications import Notification

log = logging.getLogger(__name__)

TABLE = "notification_outbox"
Status = Literal["pending", "sending", "sent", "retrying", "failed", "suppressed"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC text, so text order is time order (SQLite and DynamoDB compare text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class OutboxRow:
    notification: Notification
    status: Status
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    lease_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    provider_id: str | None = None


class Outbox(ABC):
    @abstractmethod
    def add(
        self, notifications: Sequence[Notification], now: datetime, tracking: Tracking | None = None
    ) -> int:
        """Queue the notifications (and record `tracking`, if given); returns how many were new.
        A key already in the outbox is left as it is. A resolve suppresses the deferred messages
        it makes moot (see the module's docstring), and then itself."""

    @abstractmethod
    def get(self, tenant_id: str, key: str) -> OutboxRow | None: ...

    @abstractmethod
    def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxRow]:
        """Claim up to `limit` rows due at `now` (pending/retrying, or an expired lease):
        status `sending`, attempts + 1, leased until `now + lease`."""

    @abstractmethod
    def mark_sent(self, row: OutboxRow, now: datetime, provider_id: str | None) -> bool:
        """False when the claim was lost (another dispatcher took the row over)."""

    @abstractmethod
    def mark_retry(self, row: OutboxRow, next_attempt_at: datetime, error: str) -> bool: ...

    @abstractmethod
    def mark_failed(self, row: OutboxRow, now: datetime, error: str) -> bool: ...

    @abstractmethod
    def forget_user(self, tenant_id: str, user_id: UUID) -> int:
        """A user's personal data was erased (docs/audit.md 19.7): blank the address of each of
        their rows (the delivery log keeps the rest) and suppress those still waiting; how many
        rows there were. Idempotent."""


class OutboxSender(NotificationSender):
    """The default sender: queue in the outbox (deduplicated by key) and log a line."""

    def __init__(self, outbox: Outbox, clock: Callable[[], datetime] = utc_now) -> None:
        self.outbox, self.clock = outbox, clock

    def send(self, notification: Notification) -> DeliveryResult:
        added = self.outbox.add([notification], self.clock())
        log.info(
            "outbox %s notification %s (%s, %s, alert %s, user %s)",
            "queued" if added else "already holds",
            notification.key[:16],
            notification.channel,
            notification.transition,
            notification.alert_id,
            notification.user_id,
        )
        return DeliveryResult.sent("outbox") if added else DeliveryResult.duplicate("outbox")


COLUMNS = (
    *("tenant_id", "dedup_key", "alert_id", "transition", "user_id", "channel", "address"),
    *("severity", "subject", "body", "status", "deliver_after", "attempts", "next_attempt_at"),
    *("lease_until", "last_error", "created_at", "sent_at", "provider_id"),
)


def to_record(notification: Notification, now: datetime) -> dict[str, Any]:
    """A new row's values by column (times as `iso` text, ids as text)."""
    due = notification.deliver_after or now
    return {
        "tenant_id": notification.tenant_id,
        "dedup_key": notification.key,
        "alert_id": str(notification.alert_id),
        "transition": notification.transition,
        "user_id": str(notification.user_id),
        "channel": notification.channel,
        "address": notification.address,
        "severity": notification.severity,
        "subject": notification.subject,
        "body": notification.body,
        "status": "pending",
        "deliver_after": None if notification.deliver_after is None else iso(due),
        "attempts": 0,
        "next_attempt_at": iso(max(due, now)),
        "lease_until": None,
        "last_error": None,
        "created_at": iso(now),
        "sent_at": None,
        "provider_id": None,
    }


def from_record(record: Mapping[str, Any]) -> OutboxRow:
    notification = Notification(
        key=record["dedup_key"],
        tenant_id=record["tenant_id"],
        user_id=UUID(record["user_id"]),
        channel=record["channel"],
        severity=record["severity"],
        subject=record["subject"],
        body=record["body"],
        alert_id=UUID(record["alert_id"]),
        transition=record["transition"],
        address=record["address"],
        deliver_after=from_iso(record.get("deliver_after")),
    )
    return OutboxRow(
        notification=notification,
        status=cast(Status, record["status"]),
        attempts=int(record["attempts"]),
        next_attempt_at=cast(datetime, from_iso(record["next_attempt_at"])),
        created_at=cast(datetime, from_iso(record["created_at"])),
        lease_until=from_iso(record.get("lease_until")),
        last_error=record.get("last_error"),
        sent_at=from_iso(record.get("sent_at")),
        provider_id=record.get("provider_id"),
    )
