"""Worker leases on DynamoDB, on the tracking item they guard (`event_store.leases`).

The lease of a consumer is three attributes of its tracking item (`{ns}t#{tracking name}`):
`lo` the owner ('' once released), `le` the expiry (epoch milliseconds), `lt` the fencing token.
On the same item as the checkpoint `n`, so the fence is one more clause in the condition the
tracking update already carries (`... AND lt = :lt`), in every transaction that records a
checkpoint, with no extra action. A rebuild removes `n` only (`delete_tracking`), never the
item, so a token is never given twice.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import IntegrityError

from event_store.dynamodb.client import DynamoDBClient, Item, get_n, n, s
from event_store.dynamodb.datastore import DynamoDBDatastore
from event_store.dynamodb.errors import translated_errors
from event_store.leases import Fenced, Lease, fences

FENCE = "lt = :lt"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class DynamoDBLeases:
    """`LeaseStore` on a tracking recorder's table (mixed into `DynamoDBTrackingRecorder`)."""

    client: DynamoDBClient
    datastore: DynamoDBDatastore
    tracking_table_name: str

    def tracking_key(self, application_name: str) -> Item:
        raise NotImplementedError

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> Lease | None:
        try:
            with translated_errors():
                response = self.client.update_item(
                    TableName=self.tracking_table_name,
                    Key=self.tracking_key(name),
                    UpdateExpression="SET lo = :me, le = :exp ADD lt :one",
                    ConditionExpression=(
                        "attribute_not_exists(lo) OR lo = :free OR le < :now OR lo = :me"
                    ),
                    ExpressionAttributeValues={
                        ":me": s(owner),
                        ":free": s(""),
                        ":exp": n(_ms(now + ttl)),
                        ":now": n(_ms(now)),
                        ":one": n(1),
                    },
                    ReturnValues="ALL_NEW",
                )
        except IntegrityError:  # another owner's lease runs
            return None
        return _lease(name, response["Attributes"])

    def steal_lease(self, lease: Lease, owner: str, ttl: float, now: float) -> Lease | None:
        try:
            with translated_errors():
                response = self.client.update_item(
                    TableName=self.tracking_table_name,
                    Key=self.tracking_key(lease.name),
                    UpdateExpression="SET lo = :me, le = :exp ADD lt :one",
                    ConditionExpression="lo = :them AND lt = :lt",
                    ExpressionAttributeValues={
                        ":me": s(owner),
                        ":them": s(lease.owner),
                        ":lt": n(lease.token),
                        ":exp": n(_ms(now + ttl)),
                        ":one": n(1),
                    },
                    ReturnValues="ALL_NEW",
                )
        except IntegrityError:  # moved on since it was read
            return None
        return _lease(lease.name, response["Attributes"])

    def renew_lease(self, lease: Lease, ttl: float, now: float) -> Lease | None:
        renewed = self._while_held(lease, "SET le = :exp", {":exp": n(_ms(now + ttl))})
        return Lease(lease.name, lease.owner, lease.token, now + ttl) if renewed else None

    def release_lease(self, lease: Lease) -> None:
        self._while_held(lease, "SET lo = :free, le = :zero", {":free": s(""), ":zero": n(0)})

    def _while_held(self, lease: Lease, update: str, values: dict[str, Any]) -> bool:
        """`update` the lease item if `lease` still holds it (owner and token); False when
        another process has taken it over."""
        try:
            with translated_errors():
                self.client.update_item(
                    TableName=self.tracking_table_name,
                    Key=self.tracking_key(lease.name),
                    UpdateExpression=update,
                    ConditionExpression="lo = :me AND lt = :lt",
                    ExpressionAttributeValues={
                        ":me": s(lease.owner), ":lt": n(lease.token), **values,
                    },
                )  # fmt: skip
        except IntegrityError:
            return False
        return True

    def read_lease(self, name: str) -> Lease | None:
        with translated_errors():
            response = self.client.get_item(
                TableName=self.tracking_table_name,
                Key=self.tracking_key(name),
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else _lease(name, item)

    def fence_clause(self, application_name: str) -> dict[str, Any] | None:
        """The token this process holds on `application_name`'s lease, as the values of
        `FENCE`; None when it holds none (leases off, a rebuild, a scratch store)."""
        token = fences(self.datastore).token(application_name)
        return None if token is None else {":lt": n(token)}

    def fenced(self, application_name: str, error: IntegrityError) -> IntegrityError:
        """`Fenced` when the tracking condition failed because the stored token is not the one
        this process holds; else `error` (the position was recorded before)."""
        token = fences(self.datastore).token(application_name)
        if token is None:
            return error
        lease = self.read_lease(application_name)
        if lease is not None and lease.token == token:
            return error
        stored = "none" if lease is None else f"{lease.token} ({lease.owner})"
        fenced = Fenced(f"{application_name}: lease token {token} fenced off; stored: {stored}")
        fenced.__cause__ = error
        return fenced


def _lease(name: str, item: Item) -> Lease | None:
    owner = item.get("lo", {}).get("S", "")
    token = get_n(item, "lt")
    expiry = get_n(item, "le")
    if not owner or token is None or expiry is None:
        return None
    return Lease(name, owner, token, expiry / 1000)
