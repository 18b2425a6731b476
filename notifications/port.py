"""The notification port: deliver one notification and say what happened.

Adapters never raise for provider or network trouble: they answer a `DeliveryResult` the
dispatcher can act on (mark sent, retry later, give up). Each passes the notification's `key` to
the provider as an idempotency hint where the provider takes one.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from write_side.notifications import Notification

log = logging.getLogger(__name__)

Outcome = Literal["sent", "duplicate", "retry", "failed"]


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    provider_id: str | None = None  # the provider's message id
    error: str | None = None
    retry_after: float | None = None  # seconds the provider asked us to wait
    address_invalid: bool = False  # the address is dead for good (e.g. FCM UNREGISTERED)

    @classmethod
    def sent(cls, provider_id: str | None = None) -> DeliveryResult:
        return cls("sent", provider_id=provider_id)

    @classmethod
    def duplicate(cls, provider_id: str | None = None) -> DeliveryResult:
        """Already accepted before (same key): nothing was sent again."""
        return cls("duplicate", provider_id=provider_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> DeliveryResult:
        return cls("retry", error=error, retry_after=retry_after)

    @classmethod
    def failed(cls, error: str, *, address_invalid: bool = False) -> DeliveryResult:
        return cls("failed", error=error, address_invalid=address_invalid)


class NotificationSender(ABC):
    @abstractmethod
    def send(self, notification: Notification) -> DeliveryResult:
        """Deliver `notification` once; trouble is a `retry` or `failed` result, not an error."""


class LogSender(NotificationSender):
    """Delivers by writing one log line (the embedded default for every channel)."""

    def send(self, notification: Notification) -> DeliveryResult:
        log.info(
            "notification %s: %s to user %s at %s: %s",
            notification.key[:16],
            notification.channel,
            notification.user_id,
            _mask(notification.address),
            notification.subject,
        )
        return DeliveryResult.sent(provider_id="log")


def _mask(address: str) -> str:
    """Enough of an address to recognise it in a log, not enough to use it."""
    return address if len(address) <= 6 else f"{address[:3]}…{address[-3:]}"
