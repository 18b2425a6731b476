"""Running one TransactWriteItems request with bounded retries and the true outcome.

- A cancelled transaction whose only failed condition is the feed head's (another writer
  committed first) is rebuilt for the new head (returned by ``ALL_OLD``) and retried, after
  a short jittered backoff from the second retry on. A ``TransactionConflict`` on the feed
  head (AWS cancels concurrent transactions on one item; DynamoDB Local serialises them) is the
  same contention seen earlier: retried after a short jittered backoff, and the next attempt's
  condition tells the new head. The head budget (`max_head_attempts`) counts attempts without
  progress: it starts again whenever the head moved.
- A failed condition on any other action (stream head, tracking, caller's items) raises
  `CommitConflict` (an IntegrityError) at once: nothing was written, *unless* an earlier
  attempt of the same run had an unknown outcome: then the run's commit is looked up first
  (see :mod:`.outcome`), and if it is stored the answer is success, with its positions.
- Throttling and transaction conflicts on other items (error codes, or cancellation reasons)
  are retried with exponential backoff and jitter, with a fresh ClientRequestToken (they were
  not applied). The transient budget (`max_transient_attempts`) counts such errors since the
  last answer that the head moved: that answer shows the service working, so a long contended
  run no longer spends the budget on faults spread over dozens of attempts (a CI run of nine
  writers with 12 % injected faults gave up so after 8 of them).
- Errors with an unknown outcome (5xx, timeouts, dropped connections, TransactionInProgress)
  are retried with the *same* ClientRequestToken and items, so a transaction that did commit
  is not applied twice (DynamoDB answers success for a repeated token within 10 minutes).
- When the attempts or the time (`max_elapsed`) run out: the run's commit is looked up if any
  attempt's outcome was unknown (success if stored), else OperationalError. No attempt starts
  late enough for a reused token to outlive DynamoDB's 10-minute window (checked when a
  `RetryPolicy` is made).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from eventsourcing.persistence import DataError, IntegrityError, OperationalError

from event_store.dynamodb.client import MAX_CALL_SECONDS, TOKEN_WINDOW_SECONDS, DynamoDBClient
from event_store.dynamodb.commit import Built
from event_store.dynamodb.errors import (
    AMBIGUOUS_ERROR_CODES,
    RETRYABLE_ERROR_CODES,
    cancellation_reasons,
    error_code,
    translate,
)
from event_store.dynamodb.outcome import classify, find_commit, stamp

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
    max_elapsed: float = 120.0
    """No attempt starts after this many seconds of one run, so that with botocore's own
    attempts (`MAX_CALL_SECONDS` at most per call) a reused ClientRequestToken never outlives
    DynamoDB's 10-minute idempotency window."""

    def __post_init__(self) -> None:
        longest = self.max_elapsed + self.transient_max_delay + MAX_CALL_SECONDS
        if longest >= TOKEN_WINDOW_SECONDS:
            msg = (
                f"A run could reuse a ClientRequestToken {longest:.0f} s after its first use; "
                f"DynamoDB remembers it for {TOKEN_WINDOW_SECONDS} s: lower max_elapsed"
            )
            raise ValueError(msg)

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
    the failed actions (``tracking``, ``stream_head``, ``extra``...): a failed tracking condition
    means the position was recorded before (`parts` raises `AlreadyTracked` for it), one on a
    caller's own item alone does not.
    """

    def __init__(
        self, message: str, owners: frozenset[int], kinds: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(message)
        self.owners = owners
        self.kinds = kinds


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
        self.commit_id = uuid.uuid4().hex
        self.built = stamp(build(expected_head), self.commit_id)
        self.token = uuid.uuid4().hex
        self.started = time.monotonic()
        self.transient_attempts = 0
        self.head_attempts = 0
        self.last_head: int | None = None
        self.uncertain = False
        """Whether an attempt of this run may have committed unseen (its answer was lost)."""

    def run(self) -> Built:
        while True:
            try:
                self.client.transact_write_items(
                    TransactItems=self.built.items, ClientRequestToken=self.token
                )
            except ClientError as e:
                done = self._on_client_error(e)
            except (HTTPClientError, BotoConnectionError) as e:
                # Timeouts and dropped connections: the transaction may have committed.
                done = self._backoff(e, ambiguous=True)
            except BotoCoreError as e:
                raise translate(e) from e
            else:
                return self.built
            if done is not None:
                return done

    def _on_client_error(self, error: ClientError) -> Built | None:
        code = error_code(error)
        if code == "TransactionCanceledException":
            return self._on_cancelled(error)
        if code in RETRYABLE_ERROR_CODES:
            return self._backoff(error, ambiguous=False)
        if code in AMBIGUOUS_ERROR_CODES:
            return self._backoff(error, ambiguous=True)
        raise translate(error) from error

    def _on_cancelled(self, error: ClientError) -> Built | None:
        outcome = classify(cancellation_reasons(error), self.built)
        if self.uncertain and (outcome.integrity or outcome.head is not None):
            stored = self._stored()  # our own earlier attempt may be what moved the heads
            if stored is not None:
                return stored
        if outcome.integrity:
            msg = f"Transaction cancelled: condition failed on {', '.join(outcome.integrity)}"
            raise CommitConflict(
                msg, frozenset(outcome.owners), frozenset(outcome.kinds)
            ) from error
        if outcome.invalid is not None:
            msg = f"Transaction cancelled: {outcome.invalid}"
            raise DataError(msg) from error
        if outcome.head is not None or outcome.head_conflict:
            return self._on_head_contention(outcome.head, error)
        if not outcome.retryable:
            raise translate(error) from error
        return self._backoff(error, ambiguous=False)

    def _on_head_contention(self, head: int | None, error: ClientError) -> Built | None:
        """Another writer committed (`head`: the feed head it left) or is committing (a
        TransactionConflict on the head, AWS only): retry soon, for the new head when known.
        The budget counts attempts without progress: it starts again whenever the head moved,
        since a moving head means the writers are getting through, one per round trip."""
        if head is not None:
            self.transient_attempts = 0  # the service answered: transient errors count anew
            if head != self.last_head:
                self.head_attempts = 0
            self.last_head = head
            self.built = stamp(self.build(head), self.commit_id)
        self.token = uuid.uuid4().hex
        self.head_attempts += 1
        if self.head_attempts >= self.policy.max_head_attempts or self._past_deadline():
            msg = f"Feed head still contended after {self.head_attempts} attempts"
            return self._give_up(msg, error)
        if self.head_attempts > 1 or head is None:
            time.sleep(self.policy.head_delay(self.head_attempts))
        return None

    def _backoff(self, error: Exception, *, ambiguous: bool) -> Built | None:
        self.uncertain = self.uncertain or ambiguous
        self.transient_attempts += 1
        if self.transient_attempts >= self.policy.max_transient_attempts or self._past_deadline():
            msg = f"DynamoDB transaction failed after {self.transient_attempts} attempts: {error}"
            return self._give_up(msg, error)
        logger.info("Retrying transaction after %r (attempt %d)", error, self.transient_attempts)
        time.sleep(self.policy.transient_delay(self.transient_attempts))
        if not ambiguous:
            self.token = uuid.uuid4().hex  # not applied: the next attempt is a new request
        return None

    def _past_deadline(self) -> bool:
        return time.monotonic() - self.started >= self.policy.max_elapsed

    def _give_up(self, message: str, error: Exception) -> Built:
        """The retries are spent: the run's true outcome, success included, or an error."""
        if self.uncertain:
            stored = self._stored()
            if stored is not None:
                return stored
            message += " (not committed, as a consistent read shows)"
        raise OperationalError(message) from error

    def _stored(self) -> Built | None:
        """The Built of this run's attempt that committed, if one did (read back)."""
        found = find_commit(self.client, self.built, self.commit_id)
        if found is None:
            return None
        logger.info("A transaction of unknown outcome had committed (commit id %s)", self.commit_id)
        if found.n0 is None:
            return self.built
        return stamp(self.build(found.n0), self.commit_id)
