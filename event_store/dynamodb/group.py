"""Group commit: this process's concurrent ``insert_events`` calls on one feed share a
transaction.

Commits to a feed are serialised by the feed head's condition, so each feed takes one commit
per round trip, whatever the number of writers. Calls that arrive while a transaction is in
flight queue up; the next leader takes the queue's front (FIFO) into ONE transaction, as
long as the calls touch different streams and tracking items and fit one transaction.
Each call keeps its own contiguous notification ids, and either all its events commit or none:
when a call's condition fails, that call gets IntegrityError and the others are retried
without it; when a group fails otherwise, its calls are retried one by one, so that each gets
its own outcome. The caller whose request leads a group hands leadership to the next queued
caller when done, so no caller keeps serving others.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError

from event_store.dynamodb.client import DynamoDBClient
from event_store.dynamodb.commit import CommitPlan, build_transaction
from event_store.dynamodb.errors import MAX_TRANSACTION_ACTIONS
from event_store.dynamodb.transact import CommitConflict, RetryPolicy, run_transaction

MAX_GROUP_BYTES = 3_500_000
"""Estimated bytes beyond which no more calls join a group (the hard limit is checked)."""


@dataclass(eq=False)
class _Request:
    plan: CommitPlan
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    done: bool = False
    ids: list[int] | None = None
    error: BaseException | None = None

    def finish(self, ids: list[int] | None = None, error: BaseException | None = None) -> None:
        self.ids, self.error, self.done = ids, error, True


class FeedWriter:
    """Commits calls to one feed for this process, grouping concurrent ones."""

    def __init__(self) -> None:
        self.cached_head = 0
        """The feed head after this process's last commit (a hint: the condition decides)."""
        self._lock = threading.Lock()
        self._queue: deque[_Request] = deque()
        self._leading = False

    def commit(
        self, plan: CommitPlan, client: DynamoDBClient, policy: RetryPolicy
    ) -> list[int] | None:
        """Commit one call's plan; return its notification ids (None without a feed)."""
        request = _Request(plan)
        with self._lock:
            self._queue.append(request)
            lead = not self._leading
            self._leading = True
        if not lead:
            request.wake.wait()
            lead = not request.done and request.lead
        if lead:
            self._lead(client, policy)
        assert request.done
        if request.error is not None:
            raise request.error
        return request.ids

    def _lead(self, client: DynamoDBClient, policy: RetryPolicy) -> None:
        with self._lock:
            batch = self._take_batch()
        try:
            self._run(batch, client, policy)
        except BaseException as e:
            for request in batch:
                if not request.done:
                    request.finish(error=e)
            raise
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._leading = False
            for request in batch:
                request.wake.set()

    def _take_batch(self) -> list[_Request]:
        first = self._queue.popleft()
        batch = [first]
        actions = 1 + first.plan.max_actions
        size = first.plan.max_bytes
        identities = set(first.plan.identities)
        while self._queue:
            plan = self._queue[0].plan
            if (
                actions + plan.max_actions > MAX_TRANSACTION_ACTIONS
                or size + plan.max_bytes > MAX_GROUP_BYTES
                or not identities.isdisjoint(plan.identities)
            ):
                break
            batch.append(self._queue.popleft())
            actions += plan.max_actions
            size += plan.max_bytes
            identities |= plan.identities
        return batch

    def _run(self, batch: list[_Request], client: DynamoDBClient, policy: RetryPolicy) -> None:
        pending = list(batch)
        while pending:
            plans = [request.plan for request in pending]
            try:
                built = run_transaction(
                    client,
                    functools.partial(build_transaction, plans),
                    self.cached_head,
                    policy,
                )
            except CommitConflict as e:
                if len(pending) == 1:
                    pending[0].finish(error=e)
                    return
                if not e.owners or not e.owners.issubset(range(len(pending))):
                    break  # unattributed: one by one below
                for index in e.owners:
                    pending[index].finish(error=IntegrityError(str(e)))
                pending = [r for i, r in enumerate(pending) if i not in e.owners]
                continue
            except Exception as e:
                if len(pending) == 1:
                    pending[0].finish(error=e)
                    return
                break  # one of them may be at fault: one by one below
            if any(plan.with_feed for plan in plans):
                self.cached_head = built.new_head
            for request, ids in zip(pending, built.notification_ids, strict=True):
                request.finish(ids=ids)
            return
        for request in pending:
            self._run([request], client, policy)
