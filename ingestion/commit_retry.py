"""Commit retry: a group of messages is committed, or rejected message by message, never lost.

A failure of the store (unavailable, throttled, conflicting) is retried with backoff for as
long as the service runs: nothing is dropped and nothing uncommitted is acknowledged; the full
buffer pushes back on the producers meanwhile. Once the service is stopping, retrying gives up
at its `deadline` and the group is not committed (MQTT then leaves its messages
unacknowledged, so the broker redelivers them). A failure about what is being stored, which
retrying cannot cure, is narrowed down by halving the group, so only the message(s) at fault
are rejected, as UNSTORABLE, and everything else is stored.
"""

from __future__ import annotations

import logging
import time

from eventsourcing.persistence import DataError

from event_store.dynamodb.errors import TransactionLimitError
from write_side.ingestion import MessageResult, Pending, TelemetryIngestion

log = logging.getLogger(__name__)

# Failures about what is being stored (encoding, size, values), which retrying cannot cure. Any
# other failure is taken for the store's (unavailable, throttled, conflicting) and retried.
UNSTORABLE_ERRORS = (DataError, TransactionLimitError, ValueError, TypeError, RecursionError)
UNSTORABLE = "UNSTORABLE"


class RetryingCommitter:
    """Commits groups through the handler; counts commits and failed attempts."""

    def __init__(self, handler: TelemetryIngestion, *, max_retry_delay: float) -> None:
        self.handler = handler
        self.max_retry_delay = max_retry_delay
        self.commits = 0
        self.failed_commits = 0
        self.deadline: float | None = None  # set when stopping: give up retrying after this

    def commit(self, group: list[Pending]) -> list[MessageResult] | None:
        """Commit one group, retrying failures of the store with backoff; None when the service
        is stopping and its deadline has passed (see the module docstring)."""
        delay, retried = 0.05, False
        while True:
            try:
                results = self.handler.commit(group, retried)
            except UNSTORABLE_ERRORS as e:
                self.failed_commits += 1
                return self._isolate(group, e)
            except Exception:
                self.failed_commits += 1
                log.exception("telemetry commit of %d messages failed; retrying", len(group))
                retried = True
                if self.deadline is not None and time.monotonic() + delay > self.deadline:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
                continue
            self.commits += 1
            return results

    def _isolate(self, group: list[Pending], error: Exception) -> list[MessageResult] | None:
        if len(group) == 1:
            (pending,) = group
            message_id = pending.message.message_id
            log.error("telemetry message %r cannot be stored: %r", message_id, error)
            result = MessageResult.rejected(
                UNSTORABLE, "the message cannot be stored", message_id, pending.message.device_id
            )
            self.handler.counters.count(result)
            return [result]
        half = len(group) // 2
        first, second = self.commit(group[:half]), self.commit(group[half:])
        if first is None or second is None:
            return None
        return first + second
