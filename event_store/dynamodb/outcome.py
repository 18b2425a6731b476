"""What a cancelled transaction says, and whether a commit of unknown outcome is stored.

A TransactWriteItems answer can be lost after DynamoDB committed (a read timeout, a 5xx, a
dropped connection). Retrying with the same ClientRequestToken is safe while nothing else
changes, but the retry itself can be throttled or cancelled by a conflict, and a retry with a
new token (or rebuilt for a new feed head) then fails on the stream-head condition that our
own first attempt moved. Answering "conflict" there would be a lie: the events are stored, and
a client that retries a create command on that answer makes a second aggregate.

So every attempt of one run stamps its stream commit items with the run's commit id (attribute
``c``, the same for all attempts of the run), and once any attempt's outcome was unknown, a
failed condition (or the end of the retries) is resolved by reading the run's first stream
commit item back (strongly consistent): if it carries our commit id, the run committed, and
its ``n0`` (the feed head before the commit) says which attempt, hence which notification ids.
Any later attempt of the same run is bound to fail on its stream heads once one attempt is
stored, so at most one attempt can be found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from event_store.dynamodb.client import DynamoDBClient, get_n, s
from event_store.dynamodb.commit import Built
from event_store.dynamodb.errors import RETRYABLE_CANCELLATION_CODES, translated_errors

COMMIT_ID_ATTRIBUTE = "c"


@dataclass
class Cancellation:
    """A TransactionCanceledException's reasons, by what the actions were."""

    integrity: list[str] = field(default_factory=list)  # failed conditions, except the head's
    owners: set[int] = field(default_factory=set)  # plans whose conditions failed
    kinds: set[str] = field(default_factory=set)  # kinds of the actions whose conditions failed
    head: int | None = None  # the feed head's value when its condition failed
    head_conflict: bool = False  # the feed head was in another transaction (AWS)
    retryable: bool = False  # throttled, or a conflict on another item: not applied
    invalid: str | None = None  # any other reason (validation): a caller's error


def classify(reasons: list[dict[str, Any]], built: Built) -> Cancellation:
    outcome = Cancellation()
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
        elif code == "TransactionConflict" and kind == "head":
            outcome.head_conflict = True
        elif code in RETRYABLE_CANCELLATION_CODES:
            outcome.retryable = True
        elif code not in {"None", ""} and outcome.invalid is None:
            outcome.invalid = f"{code} on {kind} action #{index}: {reason.get('Message', '')}"
    return outcome


def stamp(built: Built, commit_id: str) -> Built:
    """Mark the stream commit items of `built` with the run's commit id (in place)."""
    for kind, action in zip(built.kinds, built.items, strict=True):
        if kind == "stream":
            action["Put"]["Item"][COMMIT_ID_ATTRIBUTE] = s(commit_id)
    return built


@dataclass(frozen=True)
class Stored:
    """A run's commit found in the table: `n0` is the feed head before it (None without a feed)."""

    n0: int | None


def find_commit(client: DynamoDBClient, built: Built, commit_id: str) -> Stored | None:
    """Whether the run that built `built` committed (None: it did not, as of a consistent
    read; also None when the run writes no stream item, so there is nothing to read back)."""
    for kind, action in zip(built.kinds, built.items, strict=True):
        if kind != "stream":
            continue
        put = action["Put"]
        item = put["Item"]
        with translated_errors():
            response = client.get_item(
                TableName=put["TableName"],
                Key={"pk": item["pk"], "sk": item["sk"]},
                ConsistentRead=True,
            )
        found = response.get("Item")
        if found is None or found.get(COMMIT_ID_ATTRIBUTE, {}).get("S") != commit_id:
            return None
        return Stored(get_n(found, "n0"))
    return None
