"""The ledger on DynamoDB: table `{prefix}ledger` (`pk` S, `sk` N) beside the tracking item.

=================  =================  ==========  ============================================
item               pk                 sk          attributes
=================  =================  ==========  ============================================
entry              `e#{tenant}`       log index   `p` position, `s` stream, `v` version, `h`
stream head        `s#{stream}`       0           `v` version, `h` hash
tenant head        `t#{tenant}`       0           `n` size, `f` frontier, `p` position, `c`
checkpoint         `c#{tenant}`       tree size   `r` root, `p`, `at`, `k` key id, `g` signature
=================  =================  ==========  ============================================

A commit is ONE TransactWriteItems with the tracking update: entries are Puts that never
replace (`attribute_not_exists`), the heads plain Puts. The ledger cuts a batch into commits
of at most `max_actions` at worst (the tracking update, an entry per event, a head per stream,
a head and a checkpoint per tenant); heads are read by BatchGetItem. Checkpoints signed on
demand (no tracking) are Puts of their own, each kept if one of that size exists.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking

from audit.checkpoints import Checkpoint
from audit.ledger_port import LedgerCommit, LedgerEntry, LedgerStore, StreamHead, TenantHead
from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.client import b, get_n, n, s
from event_store.dynamodb.errors import translated_errors
from event_store.dynamodb.reads import query_items
from event_store.dynamodb.tables import table_spec

TABLE_SUFFIX = "ledger"
HASH = 32
_NEW = "attribute_not_exists(pk)"


def _get_b(item: dict[str, Any], name: str) -> bytes:
    return bytes(item[name]["B"])


def _n(item: dict[str, Any], name: str) -> int:
    value = get_n(item, name)
    assert value is not None, name
    return value


class DynamoDBLedger(DynamoDBTrackingRecorder, LedgerStore):
    """Build with `app.factory.tracking_recorder(DynamoDBLedger)` (shares client, prefix)."""

    max_actions = 100  # TransactWriteItems' limit, the tracking update included

    @property
    def table(self) -> str:
        return f"{self.table_prefix}{TABLE_SUFFIX}"

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        spec = table_spec(self.table, "pk", "sk", range_type="N")
        return [*super().construct_extra_tables(), spec]

    def _get_many(self, pks: list[str]) -> list[dict[str, Any]]:
        """The heads under `pks` (absent ones skipped): BatchGetItem, 100 keys a call,
        strongly consistent, unprocessed keys asked again."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(pks), 100):
            keys = [{"pk": s(pk), "sk": n(0)} for pk in pks[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                with translated_errors():
                    response = self.client.batch_get_item(RequestItems=request)
                items += response.get("Responses", {}).get(self.table, [])
                request = response.get("UnprocessedKeys") or {}
        return items

    def stream_heads(self, stream_ids: Collection[str]) -> dict[str, StreamHead]:
        items = self._get_many([f"s#{stream_id}" for stream_id in stream_ids])
        return {
            (stream_id := i["pk"]["S"][2:]): StreamHead(stream_id, _n(i, "v"), _get_b(i, "h"))
            for i in items
        }

    def tenant_heads(self, tenant_ids: Collection[str] | None = None) -> dict[str, TenantHead]:
        if tenant_ids is None:
            items = self._scan_prefix("t#")
        else:
            items = self._get_many([f"t#{tenant_id}" for tenant_id in tenant_ids])
        heads = {}
        for item in items:
            tenant_id = item["pk"]["S"][2:]
            frontier = _get_b(item, "f")
            at = item.get("c", {}).get("S")
            heads[tenant_id] = TenantHead(
                tenant_id,
                _n(item, "n"),
                tuple(frontier[i : i + HASH] for i in range(0, len(frontier), HASH)),
                _n(item, "p"),
                None if at is None else datetime.fromisoformat(at),
            )
        return heads

    def _scan_prefix(self, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": s(prefix)},
            "ConsistentRead": True,
        }
        while True:
            with translated_errors():
                response = self.client.scan(**kwargs)
            items += response.get("Items", [])
            if not response.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def commit(self, commit: LedgerCommit, tracking: Tracking | None) -> None:
        if tracking is None:
            for checkpoint in commit.checkpoints:
                self._put_checkpoint(checkpoint)
            return
        self.write_with_tracking(tracking, self._actions(commit))

    def _put_checkpoint(self, checkpoint: Checkpoint) -> None:
        try:
            with translated_errors():
                item = _checkpoint_item(checkpoint)
                self.client.put_item(TableName=self.table, Item=item, ConditionExpression=_NEW)
        except IntegrityError:  # a checkpoint of that size is stored: keep it
            pass

    def _actions(self, commit: LedgerCommit) -> list[dict[str, Any]]:
        table = self.table
        puts: list[dict[str, Any]] = []
        for e in commit.entries:
            item = {
                "pk": s(f"e#{e.tenant_id}"),
                "sk": n(e.log_index),
                "p": n(e.position),
                "s": s(e.stream_id),
                "v": n(e.version),
                "h": b(e.hash),
            }
            puts.append({"Put": {"TableName": table, "Item": item, "ConditionExpression": _NEW}})
        for h in commit.streams:
            item = {"pk": s(f"s#{h.stream_id}"), "sk": n(0), "v": n(h.version), "h": b(h.hash)}
            puts.append({"Put": {"TableName": table, "Item": item}})
        for t in commit.tenants:
            item = {
                "pk": s(f"t#{t.tenant_id}"),
                "sk": n(0),
                "n": n(t.size),
                "f": b(b"".join(t.frontier)),
                "p": n(t.position),
            }
            if t.checkpointed_at is not None:
                item["c"] = s(t.checkpointed_at.isoformat())
            puts.append({"Put": {"TableName": table, "Item": item}})
        for checkpoint in commit.checkpoints:
            item = _checkpoint_item(checkpoint)
            puts.append({"Put": {"TableName": table, "Item": item, "ConditionExpression": _NEW}})
        return puts

    def entries(self, tenant_id: str) -> list[LedgerEntry]:
        return [
            LedgerEntry(
                tenant_id,
                _n(i, "sk"),
                _n(i, "p"),
                i["s"]["S"],
                _n(i, "v"),
                _get_b(i, "h"),
            )
            for i in self._query(f"e#{tenant_id}")
        ]

    def checkpoints(self, tenant_id: str) -> list[Checkpoint]:
        return [
            Checkpoint(
                tenant_id,
                _n(i, "sk"),
                _get_b(i, "r"),
                _n(i, "p"),
                i["at"]["S"],
                i["k"]["S"],
                _get_b(i, "g"),
            )
            for i in self._query(f"c#{tenant_id}")
        ]

    def _query(self, pk: str) -> list[dict[str, Any]]:
        return list(
            query_items(
                self.client,
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": s(pk)},
                ConsistentRead=True,
            )
        )


def _checkpoint_item(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "pk": s(f"c#{checkpoint.tenant_id}"),
        "sk": n(checkpoint.tree_size),
        "r": b(checkpoint.root),
        "p": n(checkpoint.position),
        "at": s(checkpoint.issued_at),
        "k": s(checkpoint.key_id),
        "g": b(checkpoint.signature),
    }
