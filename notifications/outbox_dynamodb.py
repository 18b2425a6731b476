"""The notification outbox on DynamoDB: table `{prefix}notification_outbox`.

Keys `tenant_id` (S, hash) + `dedup_key` (S, range); a new row is a conditional Put
(`attribute_not_exists`), so a duplicate key is a no-op. The sparse GSI `due` (`due_shard` "0"
.. "f", the key's first hex digit; `due_sk` = `"{due at}#{tenant_id}#{dedup_key}"`) holds only
rows that will be due: pending/retrying rows at `next_attempt_at`, sending rows at the end of
their lease. Claims read the index (eventually consistent) and then take each row with a
conditional update on the table (consistent), so two dispatchers never both claim a row.

With `tracking`, rows are written first and the checkpoint after them: not one transaction,
but a crash in between only replays idempotent puts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.errors import translated_errors
from notifications.outbox import TABLE, Outbox, OutboxRow, Status, from_record, iso, to_record
from write_side.notifications import Notification, superseded_keys

DUE_INDEX = "due"
SHARDS = "0123456789abcdef"


class DynamoDBOutbox(DynamoDBTrackingRecorder, Outbox):
    """Build with `app.factory.tracking_recorder(DynamoDBOutbox)` (shares client and prefix)."""

    @property
    def table(self) -> str:
        return f"{self.table_prefix}{TABLE}"

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        strings = ("tenant_id", "dedup_key", "due_shard", "due_sk")
        spec = {
            "TableName": self.table,
            "KeySchema": [
                {"AttributeName": "tenant_id", "KeyType": "HASH"},
                {"AttributeName": "dedup_key", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in strings],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": DUE_INDEX,
                    "KeySchema": [
                        {"AttributeName": "due_shard", "KeyType": "HASH"},
                        {"AttributeName": "due_sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        return [*super().construct_extra_tables(), spec]

    def add(
        self, notifications: Sequence[Notification], now: datetime, tracking: Tracking | None = None
    ) -> int:
        added = 0
        for notification in notifications:
            record = to_record(notification, now)
            item = _item(record) | _due(record, record["next_attempt_at"])
            if self._suppress_deferred(notification, now):
                item = _item(record | {"status": "suppressed"})  # not due: no index entry
            try:
                with translated_errors():
                    self.client.put_item(
                        TableName=self.table,
                        Item=item,
                        ConditionExpression="attribute_not_exists(dedup_key)",
                    )
                added += 1
            except IntegrityError:  # the condition failed: the key is already queued
                pass
        if tracking is not None:
            self.insert_tracking(tracking)
        return added

    def _suppress_deferred(self, notification: Notification, now: datetime) -> bool:
        suppressed = False
        for key in superseded_keys(notification):
            try:
                with translated_errors():
                    self.client.update_item(
                        TableName=self.table,
                        Key=_key(notification.tenant_id, key),
                        UpdateExpression="SET #st = :suppressed REMOVE due_shard, due_sk",
                        ConditionExpression="#st = :pending AND next_attempt_at > :now",
                        ExpressionAttributeNames={"#st": "status"},
                        ExpressionAttributeValues={
                            ":suppressed": {"S": "suppressed"},
                            ":pending": {"S": "pending"},
                            ":now": {"S": iso(now)},
                        },
                    )
                suppressed = True
            except IntegrityError:  # absent, already due, or already sent
                pass
        return suppressed

    def forget_user(self, tenant_id: str, user_id: UUID) -> int:
        """Reads the tenant's partition (filtered by user: the table has no index by user)."""
        rows, start = [], None
        with translated_errors():
            while True:
                page = self.client.query(
                    TableName=self.table,
                    KeyConditionExpression="tenant_id = :t",
                    FilterExpression="user_id = :u",
                    ProjectionExpression="dedup_key, #st",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues={":t": {"S": tenant_id}, ":u": {"S": str(user_id)}},
                    ConsistentRead=True,
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                rows += page.get("Items", [])
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            for row in rows:
                waiting = row["status"]["S"] in ("pending", "retrying")
                update = "SET address = :blank" + (
                    ", #st = :suppressed REMOVE due_shard, due_sk" if waiting else ""
                )
                values = {":blank": {"S": ""}} | (
                    {":suppressed": {"S": "suppressed"}} if waiting else {}
                )
                self.client.update_item(
                    TableName=self.table,
                    Key=_key(tenant_id, row["dedup_key"]["S"]),
                    UpdateExpression=update,
                    ExpressionAttributeValues=values,
                    **({"ExpressionAttributeNames": {"#st": "status"}} if waiting else {}),
                )
        return len(rows)

    def get(self, tenant_id: str, key: str) -> OutboxRow | None:
        with translated_errors():
            response = self.client.get_item(
                TableName=self.table, Key=_key(tenant_id, key), ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None else from_record(_record(item))

    def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxRow]:
        bound = f"{iso(now)}#~"  # '~' sorts after every character of a tenant id or key
        claimed: list[OutboxRow] = []
        for shard in SHARDS:
            with translated_errors():
                response = self.client.query(
                    TableName=self.table,
                    IndexName=DUE_INDEX,
                    KeyConditionExpression="due_shard = :s AND due_sk <= :bound",
                    ExpressionAttributeValues={":s": {"S": shard}, ":bound": {"S": bound}},
                    Limit=limit - len(claimed),
                )
            for item in response.get("Items", []):
                row = self._claim(item["tenant_id"]["S"], item["dedup_key"]["S"], now, lease)
                if row is not None:
                    claimed.append(row)
            if len(claimed) >= limit:
                break
        return sorted(claimed, key=lambda r: r.next_attempt_at)

    def mark_sent(self, row: OutboxRow, now: datetime, provider_id: str | None) -> bool:
        values = {":sent": {"S": iso(now)}, ":pid": _s_or_null(provider_id)}
        update = "SET sent_at = :sent, provider_id = :pid REMOVE lease_until, due_shard, due_sk"
        return self._mark(row, "sent", update, values)

    def mark_retry(self, row: OutboxRow, next_attempt_at: datetime, error: str) -> bool:
        next_iso = iso(next_attempt_at)
        values = {
            ":next": {"S": next_iso},
            ":err": {"S": error[:1000]},
            ":due": {"S": _due_sk(row.notification.tenant_id, row.notification.key, next_iso)},
        }
        update = "SET next_attempt_at = :next, last_error = :err, due_sk = :due REMOVE lease_until"
        return self._mark(row, "retrying", update, values)

    def mark_failed(self, row: OutboxRow, now: datetime, error: str) -> bool:
        values = {":err": {"S": error[:1000]}}
        update = "SET last_error = :err REMOVE lease_until, due_shard, due_sk"
        return self._mark(row, "failed", update, values)

    def _claim(self, tenant_id: str, key: str, now: datetime, lease: timedelta) -> OutboxRow | None:
        until = iso(now + lease)
        try:
            with translated_errors():
                response = self.client.update_item(
                    TableName=self.table,
                    Key=_key(tenant_id, key),
                    UpdateExpression="SET #st = :sending, attempts = attempts + :one, "
                    "lease_until = :until, due_sk = :due",
                    ConditionExpression="(#st IN (:pending, :retrying) AND next_attempt_at <= :now)"
                    " OR (#st = :sending AND lease_until <= :now)",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues={
                        ":sending": {"S": "sending"},
                        ":pending": {"S": "pending"},
                        ":retrying": {"S": "retrying"},
                        ":now": {"S": iso(now)},
                        ":until": {"S": until},
                        ":one": {"N": "1"},
                        ":due": {"S": _due_sk(tenant_id, key, until)},
                    },
                    ReturnValues="ALL_NEW",
                )
        except IntegrityError:
            return None  # another dispatcher claimed it, or the index was stale
        return from_record(_record(response["Attributes"]))

    def _mark(self, row: OutboxRow, status: Status, update: str, values: dict[str, Any]) -> bool:
        try:
            with translated_errors():
                self.client.update_item(
                    TableName=self.table,
                    Key=_key(row.notification.tenant_id, row.notification.key),
                    UpdateExpression=update.replace("SET ", "SET #st = :status, ", 1),
                    ConditionExpression="#st = :sending AND attempts = :attempts",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues={
                        **values,
                        ":status": {"S": status},
                        ":sending": {"S": "sending"},
                        ":attempts": {"N": str(row.attempts)},
                    },
                )
        except IntegrityError:
            return False  # the claim was lost
        return True


def _key(tenant_id: str, key: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "dedup_key": {"S": key}}


def _due_sk(tenant_id: str, key: str, due_at: str) -> str:
    return f"{due_at}#{tenant_id}#{key}"


def _due(record: dict[str, Any], due_at: str) -> dict[str, Any]:
    key = record["dedup_key"]
    return {
        "due_shard": {"S": key[0] if key[:1] in SHARDS else "0"},
        "due_sk": {"S": _due_sk(record["tenant_id"], key, due_at)},
    }


def _s_or_null(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _item(record: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, value in record.items():
        if value is None:
            continue
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    return item


def _record(item: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in item.items():
        if "S" in value:
            record[name] = value["S"]
        elif "N" in value:
            record[name] = int(value["N"])
        else:
            record[name] = None
    return record
