"""Committing a read model's batch as several transactions, each guarded by the tracking item.

DynamoDB takes at most 100 actions per transaction, so a view whose batch changes more rows
splits it into parts, committed in order; the last part records the tracking position. The
batch as a whole is then not atomic, and two workers applying the same feed (a second process,
or a restarted one beside its predecessor) must not undo each other:

- Every non-final part carries a ConditionCheck on the tracking item with the same condition
  as the final update (`attribute_not_exists(n) OR n < :id`). Once a worker's last part has
  recorded a position, a lagging worker (same or lower tracking id) can write none of its parts.
- That is not enough on its own: two workers can both pass their first parts' checks before
  either records its position (the same batch, or overlapping ranges where the lagging one's
  parts land between the leading one's parts). So the views also put a condition on every row
  that carries a version or feed position (it only replaces an older row: users by stream
  version, device status by feed position, alerts and rules by stream version, rollups by their
  guard `v`). Whatever the interleaving, a row never goes back. Items without one are
  immutable (raw readings), ride in the same part as their guarded row (timeline entries), or
  remain unguarded (device names, alert links: no version to compare; in the race above a
  lagging worker can still rewrite an older one, docs/projections.md section 7.2).
- A part that commits followed by a crash is harmless for the same reason: the replay from
  the checkpoint reads the newer rows and writes only what they have not absorbed.

Failures: the tracking condition failing (on any part) raises `AlreadyTracked`: a position at
least as high is recorded, so some worker's complete batch covered these notifications, and
the caller may skip them. Any other failed condition (a row guard) raises the plain
`CommitConflict`: the parts before it stay committed, the tracking does not move, and the caller
must resume from its checkpoint, never skip the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from event_store.dynamodb.client import DynamoDBClient
from event_store.dynamodb.commit import Built
from event_store.dynamodb.errors import MAX_TRANSACTION_ACTIONS, TransactionLimitError
from event_store.dynamodb.transact import CommitConflict, RetryPolicy, run_transaction
from event_store.tracking import AlreadyTracked

MAX_PART_ITEMS = MAX_TRANSACTION_ACTIONS - 1  # + the tracking update or check


def tracking_check(update: Mapping[str, Any]) -> dict[str, Any]:
    """The ConditionCheck of a tracking `Update` action: same item and condition, no write."""
    body = update["Update"]
    names = ("TableName", "Key", "ConditionExpression", "ExpressionAttributeValues")
    return {"ConditionCheck": {name: body[name] for name in names}}


def check_sizes(parts: Sequence[Sequence[Mapping[str, Any]]]) -> None:
    """TransactionLimitError (before anything is written) if a part is too big."""
    for number, part in enumerate(parts, start=1):
        if len(part) > MAX_PART_ITEMS:
            msg = (
                f"part {number} has {len(part)} items; one transaction holds at most "
                f"{MAX_PART_ITEMS} besides the tracking action"
            )
            raise TransactionLimitError(msg)


def commit_part(
    client: DynamoDBClient,
    policy: RetryPolicy,
    tracking: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
) -> None:
    """One guarded part: the tracking action (update or check, kind "tracking") and `items`,
    through `run_transaction` (retries, error translation)."""
    actions = [dict(tracking), *(dict(item) for item in items)]
    kinds = ["tracking"] + ["extra"] * len(items)
    built = Built(actions, kinds, [0] * len(actions), new_head=0, notification_ids=[None])
    try:
        run_transaction(client, lambda _: built, 0, policy)
    except CommitConflict as e:
        if "tracking" in e.kinds:
            raise AlreadyTracked(str(e)) from e
        raise


def split(items: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """`items` in parts of at most `MAX_PART_ITEMS`, in order (one empty part for none)."""
    return [list(items[i : i + MAX_PART_ITEMS]) for i in range(0, len(items), MAX_PART_ITEMS)] or [
        []
    ]


def guarded_put(table: str, item: dict[str, Any], attribute: str) -> dict[str, Any]:
    """A Put that only replaces an older row: `item[attribute]` (a number that grows with
    every change of the row: a stream version, a feed position) must exceed the stored one.
    A row stored before it had the attribute counts as older."""
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#g) OR #g < :g",
            "ExpressionAttributeNames": {"#g": attribute},
            "ExpressionAttributeValues": {":g": item[attribute]},
        }
    }
