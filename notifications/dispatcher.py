"""Delivers queued notifications at least once: claim due outbox rows, send each through its
channel's sender, mark the outcome.

- sent / duplicate -> `sent`;
- retry (or a sender that raised) -> `retrying`, due again after a backoff (base * factor^n,
  capped, at least the provider's `Retry-After`), until `max_attempts` claims, then `failed`;
- failed -> `failed`; when the provider says the address is dead (FCM `UNREGISTERED`), the
  `on_address_invalid` hook runs (wired to remove the push token from the user).

A dispatcher that dies mid-send leaves the row `sending`; when its lease expires the row is due
again, so it is sent again (at least once). The notification key goes to every provider as an
idempotency hint where one exists, and the outbox never holds a key twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifications.outbox import Outbox, OutboxRow, utc_now
from notifications.port import DeliveryResult, LogSender, NotificationSender
from write_side.notifications import Notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 30.0
    factor: float = 2.0
    max_seconds: float = 6 * 3600.0
    max_attempts: int = 8

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait before the next attempt, after `attempts` attempts (1, 2, ...)."""
        seconds = min(self.base_seconds * self.factor ** max(attempts - 1, 0), self.max_seconds)
        return timedelta(seconds=max(seconds, retry_after or 0.0))


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0  # claims another dispatcher took over before we could mark them


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, NotificationSender],
        *,
        fallback: NotificationSender | None = None,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 50,
        clock: Callable[[], datetime] = utc_now,
        on_address_invalid: Callable[[Notification], None] | None = None,
    ) -> None:
        """`senders` by channel; channels without one use `fallback` (default: a log line)."""
        self.outbox, self.senders = outbox, dict(senders)
        self.fallback = fallback if fallback is not None else LogSender()
        self.backoff = backoff or Backoff()
        self.lease, self.batch_size, self.clock = lease, batch_size, clock
        self.on_address_invalid = on_address_invalid
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> DispatchStats:
        """Claim and deliver one batch of due rows."""
        stats = DispatchStats()
        rows = self.outbox.claim_due(self.clock(), self.batch_size, self.lease)
        stats.claimed = len(rows)
        for row in rows:
            self._deliver(row, stats)
        return stats

    def drain(self, max_batches: int = 100) -> DispatchStats:
        """Run batches until nothing is due (or `max_batches`); the totals."""
        total = DispatchStats()
        for _ in range(max_batches):
            stats = self.run_once()
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if stats.claimed == 0:
                break
        return total

    def start(self, interval: float = 1.0) -> None:
        """Deliver in a daemon thread, polling every `interval` seconds when idle."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="notification-dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False  # it ends after its turn; start again once stop says True
            self._thread = None
        return True

    def _run(self, interval: float) -> None:
        while not self._stopping.is_set():
            try:
                idle = self.run_once().claimed == 0
            except Exception:  # the outbox is unreachable: rows stay queued, try again later
                log.exception("notification dispatch failed; retrying in %.1f s", interval)
                idle = True
            if idle:
                self._stopping.wait(interval)

    def _deliver(self, row: OutboxRow, stats: DispatchStats) -> None:
        notification = row.notification
        if row.attempts > self.backoff.max_attempts:  # e.g. a sender that keeps crashing us
            result = DeliveryResult.failed(f"gave up after {row.attempts - 1} attempts")
        else:
            result = self._send(notification)
        now = self.clock()
        if result.outcome in {"sent", "duplicate"}:
            marked = self.outbox.mark_sent(row, now, result.provider_id)
            stats.sent += marked
        elif result.outcome == "retry" and row.attempts < self.backoff.max_attempts:
            delay = self.backoff.delay(row.attempts, result.retry_after)
            marked = self.outbox.mark_retry(row, now + delay, result.error or "retry")
            stats.retried += marked
        else:
            marked = self.outbox.mark_failed(row, now, result.error or "failed")
            stats.failed += marked
            if result.address_invalid and marked:
                self._address_invalid(notification)
        stats.lost += not marked
        log.log(
            logging.INFO if result.outcome in {"sent", "duplicate"} else logging.WARNING,
            "notification %s via %s, attempt %d: %s%s",
            notification.key[:16],
            notification.channel,
            row.attempts,
            result.outcome,
            f" ({result.error})" if result.error else "",
        )

    def _send(self, notification: Notification) -> DeliveryResult:
        sender = self.senders.get(notification.channel, self.fallback)
        try:
            return sender.send(notification)
        except Exception as e:  # a bug or an unexpected driver error: treat as transient
            log.exception("sender for %s raised", notification.channel)
            return DeliveryResult.retry(f"{type(e).__name__}: {e}")

    def _address_invalid(self, notification: Notification) -> None:
        if self.on_address_invalid is None:
            return
        try:
            self.on_address_invalid(notification)
        except Exception:
            log.exception("could not forget the dead address of %s", notification.key[:16])
