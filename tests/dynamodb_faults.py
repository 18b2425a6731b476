"""Faults injected at the boto3 boundary around the real DynamoDB Local (never a stand-in).

`FaultInjector` hooks a client's botocore events for TransactWriteItems:

- before the request is sent (`before-call`): answer with an injected error response
  (throttling, a cancellation whose reason is a TransactionConflict on the feed head, a 500),
  or raise a read timeout: nothing reaches DynamoDB Local, nothing is applied;
- after DynamoDB Local answered (`after-call`): raise a read timeout or a 500 although the
  transaction committed, as when the answer is lost on the way back.

Faults come from a script (`then(kind, ...)`, consumed in order, one per call) or at random
(`rates`, with a seeded generator), and are counted by kind (a fault after commit only
when the transaction did commit). With `carry=True`, a scripted fault after commit that met a
transaction which did not commit goes back to the head of the script, so every scripted kind
is surely seen once (the workload scripts each kind once: with rates alone, a rare kind is
sometimes not drawn at all).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError

OPERATION = "dynamodb.TransactWriteItems"

BEFORE = ("throttle", "head_conflict", "timeout_before", "error_500_before")
AFTER = ("timeout_after_commit", "error_500_after_commit")
KINDS = (*BEFORE, *AFTER)


def error_response(code: str, status: int = 400, **extra: Any) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }


def head_conflict_response(actions: int) -> dict[str, Any]:
    """What AWS answers when another transaction holds the feed head (the first action)."""
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    reasons += [{"Code": "None"}] * (actions - 1)
    return error_response("TransactionCanceledException", CancellationReasons=reasons)


class FaultInjector:
    def __init__(
        self,
        client: Any,
        *,
        rates: Mapping[str, float] | None = None,
        seed: int = 0,
        carry: bool = False,
    ) -> None:
        self.carry = carry
        self.rates = dict(rates or {})
        unknown = set(self.rates) - set(KINDS)
        if unknown:
            msg = f"unknown fault kinds {sorted(unknown)}"
            raise ValueError(msg)
        self.random = random.Random(seed)
        self.script: list[str | None] = []
        self.counts: Counter[str] = Counter()
        self.calls = 0
        self.endpoint = str(client.meta.endpoint_url)
        self._lock = threading.Lock()
        self._events = client.meta.events
        self._events.register(f"before-parameter-build.{OPERATION}", self._count_actions)
        self._events.register(f"before-call.{OPERATION}", self._before)
        self._events.register(f"after-call.{OPERATION}", self._after)

    def then(self, *kinds: str | None) -> FaultInjector:
        """Inject these faults on the next calls, in order (None: a call without a fault)."""
        self.script.extend(kinds)
        return self

    def remove(self) -> None:
        self._events.unregister(f"before-parameter-build.{OPERATION}", self._count_actions)
        self._events.unregister(f"before-call.{OPERATION}", self._before)
        self._events.unregister(f"after-call.{OPERATION}", self._after)

    def _choose(self) -> tuple[str | None, bool]:
        with self._lock:
            self.calls += 1
            if self.script:
                kind = self.script.pop(0)
                scripted = True
            else:
                scripted = False
                kind = None
                draw = self.random.random()
                for name, rate in self.rates.items():
                    if draw < rate:
                        kind = name
                        break
                    draw -= rate
            if kind in BEFORE:
                self.counts[kind] += 1
            return kind, scripted

    @staticmethod
    def _count_actions(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fleetwatch_actions"] = len(params["TransactItems"])

    def _before(
        self, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        kind, scripted = self._choose()
        if kind in AFTER:
            context["fleetwatch_fault"] = kind
            context["fleetwatch_scripted"] = scripted
            return None
        if kind == "timeout_before":
            raise ReadTimeoutError(endpoint_url=self.endpoint)
        if kind == "throttle":
            parsed = error_response("ThrottlingException")
        elif kind == "head_conflict":
            parsed = head_conflict_response(context["fleetwatch_actions"])
        elif kind == "error_500_before":
            parsed = error_response("InternalServerError", 500)
        else:
            return None
        status = parsed["ResponseMetadata"]["HTTPStatusCode"]
        return AWSResponse("http://injected", status, {}, None), parsed

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        kind = context.pop("fleetwatch_fault", None)
        scripted = context.pop("fleetwatch_scripted", False)
        if kind is None:
            return
        if "Error" in parsed:  # nothing committed: there is no answer of a commit to lose
            if scripted and self.carry:
                with self._lock:
                    self.script.insert(0, kind)
            return
        with self._lock:
            self.counts[kind] += 1
        if kind == "timeout_after_commit":
            raise ReadTimeoutError(endpoint_url=self.endpoint)
        raise ClientError(error_response("InternalServerError", 500), "TransactWriteItems")
