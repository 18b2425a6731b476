"""Running one TransactWriteItems request with bounded retries and error translation.

- A cancelled transaction whose only failed condition is the feed head's (another writer
  committed first) is rebuilt for the new head (returned by ``ALL_OLD``) and retried, after
  a jittered backoff from the second retry on.
- A failed condition on any other action (stream head, tracking, caller's items) raises
  IntegrityError at once: nothing was written.
- Throttling and transaction conflicts (as error codes, or as cancellation reasons) are retried
  with exponential backoff and jitter, with a fresh ClientRequestToken (they were not applied).
- Errors with an unknown outcome (5xx, timeouts, dropped connections, TransactionInProgress)
  are retried with the *same* ClientRequestToken and items, so a transaction that did commit
  is not applied twice (DynamoDB answers success for a repeated token within 10 minutes).
- When the attempts run out: OperationalError.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from eventsourcing.persistence import DataError, IntegrityError, OperationalError

from event_store.dynamodb.client import DynamoDBClient
from event_store.dynamodb.commit import Built
from event_store.dynamodb.errors import (
    AMBIGUOUS_ERROR_CODES,
    RETRYABLE_CANCELLATION_CODES,
    RETRYABLE_ERROR_CODES,
    cancellation_reasons,
    error_code,
    translate,
)

logger = logging.getLogger(__name__)

_random = random.Random()  # noqa: S311 - jitter, not cryptography


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries (the defaults suit AWS; tests may shorten them)."""

    max_transient_attempts: int = 8
    transient_base_delay: float = 0.05
    transient_max_delay: float = 2.0
    max_head_attempts: int = 60
    head_base_delay: float = 0.005
    head_max_delay: float = 0.25

    def transient_delay(self, attempt: int) -> float:
        return _jitter(self.transient_base_delay, self.transient_max_delay, attempt)

    def head_delay(self, attempt: int) -> float:
        return _jitter(self.head_base_delay, self.head_max_delay, attempt)


def _jitter(base: float, cap: float, attempt: int) -> float:
    """'Equal jitter' exponential backoff: half fixed, half random."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + _random.uniform(0, delay / 2)


class CommitConflict(IntegrityError):
    """A condition other than the feed head's failed: nothing was written.

    `owners` are the indexes of the plans (calls) whose conditions failed; `kinds` the kinds of
    the failed actions (``tracking``, ``stream_head``, ``extra``...): a conflict on the tracking
    item alone means the position was recorded before, one on a caller's own item does not.
    """

    def __init__(
        self, message: str, owners: frozenset[int], kinds: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(message)
        self.owners = owners
        self.kinds = kinds

    @property
    def only_tracking(self) -> bool:
        """Whether the tracking condition was the only one that failed."""
        return self.kinds == frozenset({"tracking"})


@dataclass
class _Outcome:
    integrity: list[str] = field(default_factory=list)
    owners: set[int] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    head: int | None = None
    retryable: bool = False
    invalid: str | None = None


def _classify(reasons: list[dict[str, Any]], built: Built) -> _Outcome:
    outcome = _Outcome()
    for index, reason in enumerate(reasons):
        code = reason.get("Code") or "None"
        kind = built.kinds[index] if index < len(built.kinds) else "extra"
        if code == "ConditionalCheckFailed":
            if kind == "head":
                item = reason.get("Item") or {}
                outcome.head = int(item["n"]["N"]) if "n" in item else 0
            else:
                outcome.integrity.append(f"{kind} action #{index}")
                outcome.kinds.add(kind)
                outcome.owners.add(built.owners[index] if index < len(built.owners) else -1)
        elif code in RETRYABLE_CANCELLATION_CODES:
            outcome.retryable = True
        elif code not in {"None", ""} and outcome.invalid is None:
            outcome.invalid = f"{code} on {kind} action #{index}: {reason.get('Message', '')}"
    return outcome


def run_transaction(
    client: DynamoDBClient,
    build: Callable[[int], Built],
    expected_head: int,
    policy: RetryPolicy,
) -> Built:
    """Commit ``build(expected_head)``, adapting to the actual head; return what committed."""
    return _Runner(client, build, expected_head, policy).run()


class _Runner:
    def __init__(
        self,
        client: DynamoDBClient,
        build: Callable[[int], Built],
        expected_head: int,
        policy: RetryPolicy,
    ) -> None:
        self.client = client
        self.build = build
        self.policy = policy
        self.built = build(expected_head)
        self.token = uuid.uuid4().hex
        self.transient_attempts = 0
        self.head_attempts = 0

    def run(self) -> Built:
        while True:
            try:
                self.client.transact_write_items(
                    TransactItems=self.built.items, ClientRequestToken=self.token
                )
            except ClientError as e:
                self._on_client_error(e)
            except (HTTPClientError, BotoConnectionError) as e:
                # Timeouts and dropped connections: the transaction may have committed.
                self._backoff(e, ambiguous=True)
            except BotoCoreError as e:
                raise translate(e) from e
            else:
                return self.built

    def _on_client_error(self, error: ClientError) -> None:
        code = error_code(error)
        if code == "TransactionCanceledException":
            self._on_cancelled(error)
        elif code in RETRYABLE_ERROR_CODES:
            self._backoff(error, ambiguous=False)
        elif code in AMBIGUOUS_ERROR_CODES:
            self._backoff(error, ambiguous=True)
        else:
            raise translate(error) from error

    def _on_cancelled(self, error: ClientError) -> None:
        outcome = _classify(cancellation_reasons(error), self.built)
        if outcome.integrity:
            msg = f"Transaction cancelled: condition failed on {', '.join(outcome.integrity)}"
            raise CommitConflict(
                msg, frozenset(outcome.owners), frozenset(outcome.kinds)
            ) from error
        if outcome.invalid is not None:
            msg = f"Transaction cancelled: {outcome.invalid}"
            raise DataError(msg) from error
        if outcome.head is not None:
            # Another writer moved the feed head: rebuild for the head it left.
            self.built = self.build(outcome.head)
            self.token = uuid.uuid4().hex
            if not outcome.retryable:
                self.head_attempts += 1
                if self.head_attempts >= self.policy.max_head_attempts:
                    msg = f"Feed head still contended after {self.head_attempts} attempts"
                    raise OperationalError(msg) from error
                if self.head_attempts > 1:
                    time.sleep(self.policy.head_delay(self.head_attempts - 1))
                return
        if not outcome.retryable:
            raise translate(error) from error
        self._backoff(error, ambiguous=False)

    def _backoff(self, error: Exception, *, ambiguous: bool) -> None:
        self.transient_attempts += 1
        if self.transient_attempts >= self.policy.max_transient_attempts:
            msg = f"DynamoDB transaction failed after {self.transient_attempts} attempts: {error}"
            raise OperationalError(msg) from error
        logger.info("Retrying transaction after %r (attempt %d)", error, self.transient_attempts)
        time.sleep(self.policy.transient_delay(self.transient_attempts))
        if not ambiguous:
            self.token = uuid.uuid4().hex
