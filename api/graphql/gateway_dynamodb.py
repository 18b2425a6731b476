"""The gateway's connections and subscriptions on DynamoDB (`api.graphql.gateway_runs.
GatewayStore`, issue 15 item 4): `{prefix}ws_connections` (a connection, its caller once
`connection_init` was accepted) and `{prefix}ws_subscriptions` (a connection's subscriptions,
one item per operation and topic, with the index `by_topic` on `{tenant}#{topic}` the
publisher queries). Both carry `expires_at` (epoch seconds): DynamoDB's TTL deletes what a
gateway ended without `$disconnect` (the stack sets it on that attribute), and every read here
skips an item past it, since TTL deletes within days, not at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from api.auth import Principal
from api.graphql.gateway_runs import GatewaySubscription
from event_store.dynamodb.tables import ensure_tables, table_spec
from read_side.dynamodb_tables import BATCH, get_one

CONNECTIONS, SUBSCRIPTIONS, BY_TOPIC = "ws_connections", "ws_subscriptions", "by_topic"
TTL_ATTRIBUTE = "expires_at"


def table_specs(prefix: str) -> list[dict[str, Any]]:
    return [
        table_spec(f"{prefix}{CONNECTIONS}", "connection_id"),
        table_spec(
            f"{prefix}{SUBSCRIPTIONS}",
            "connection_id",
            "member",
            indexes={BY_TOPIC: ("topic_key", "member_key")},
        ),
    ]


def _caller(text: str) -> Principal:
    data = json.loads(text)
    return Principal(
        subject=data["subject"],
        tenant_id=data["tenant_id"],
        roles=frozenset(data["roles"]),
        expires_at=data.get("expires_at"),
    )


def _caller_json(caller: Principal) -> str:
    return json.dumps(
        {
            "subject": caller.subject,
            "tenant_id": caller.tenant_id,
            "roles": sorted(caller.roles),
            "expires_at": caller.expires_at,
        }
    )


class DynamoDBGatewayStore:
    def __init__(
        self,
        client: Any,
        prefix: str,
        *,
        create_tables: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.clock = client, clock
        self.connections = f"{prefix}{CONNECTIONS}"
        self.subscriptions = f"{prefix}{SUBSCRIPTIONS}"
        if create_tables:
            ensure_tables(client, table_specs(prefix))

    def open(self, connection_id: str, expires_at: float) -> None:
        item = {"connection_id": {"S": connection_id}, TTL_ATTRIBUTE: {"N": str(int(expires_at))}}
        self.client.put_item(TableName=self.connections, Item=item)

    def authenticate(self, connection_id: str, caller: Principal) -> None:
        self.client.update_item(
            TableName=self.connections,
            Key={"connection_id": {"S": connection_id}},
            UpdateExpression="SET caller = :c",
            ExpressionAttributeValues={":c": {"S": _caller_json(caller)}},
        )

    def connection(self, connection_id: str) -> tuple[float, Principal | None] | None:
        item = get_one(self.client, self.connections, {"connection_id": {"S": connection_id}})
        if item is None or float(item[TTL_ATTRIBUTE]["N"]) <= self.clock():
            return None
        caller = item.get("caller")
        return float(item[TTL_ATTRIBUTE]["N"]), _caller(caller["S"]) if caller else None

    def subscribe(self, subscription: GatewaySubscription) -> None:
        s = subscription
        item: dict[str, Any] = {
            "connection_id": {"S": s.connection_id},
            "member": {"S": f"{s.operation_id}#{s.topic}"},
            "member_key": {"S": f"{s.connection_id}#{s.operation_id}"},
            "topic_key": {"S": f"{s.tenant_id}#{s.topic}"},
            "operation_id": {"S": s.operation_id},
            "tenant_id": {"S": s.tenant_id},
            "topic": {"S": s.topic},
            "query": {"S": s.query},
            "variables": {"S": json.dumps(s.variables)},
            "caller": {"S": _caller_json(s.caller)},
            TTL_ATTRIBUTE: {"N": str(int(s.expires_at))},
        }
        if s.operation_name is not None:
            item["operation_name"] = {"S": s.operation_name}
        self.client.put_item(TableName=self.subscriptions, Item=item)

    def _members(self, connection_id: str, operation_id: str | None = None) -> list[dict[str, Any]]:
        """A connection's subscription items (of one operation, when given), consistent."""
        query: dict[str, Any] = {
            "TableName": self.subscriptions,
            "KeyConditionExpression": "connection_id = :c",
            "ExpressionAttributeValues": {":c": {"S": connection_id}},
            "ConsistentRead": True,
        }
        if operation_id is not None:
            query["KeyConditionExpression"] += " AND begins_with(#m, :op)"
            query["ExpressionAttributeValues"][":op"] = {"S": f"{operation_id}#"}
            query["ExpressionAttributeNames"] = {"#m": "member"}
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("query").paginate(**query):
            items += page.get("Items", [])
        return items

    def has(self, connection_id: str, operation_id: str) -> bool:
        return bool(self._members(connection_id, operation_id))

    def unsubscribe(self, connection_id: str, operation_id: str) -> None:
        self._delete(self._members(connection_id, operation_id))

    def _delete(self, items: list[dict[str, Any]]) -> None:
        keys = [{"connection_id": i["connection_id"], "member": i["member"]} for i in items]
        for start in range(0, len(keys), BATCH):
            pending: dict[str, Any] = {
                self.subscriptions: [
                    {"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH]
                ]
            }
            while pending:
                pending = self.client.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems", {}
                )

    def subscribers(self, tenant_id: str, topic: str) -> list[GatewaySubscription]:
        now = self.clock()
        found = []
        pages = self.client.get_paginator("query").paginate(
            TableName=self.subscriptions,
            IndexName=BY_TOPIC,
            KeyConditionExpression="topic_key = :t",
            ExpressionAttributeValues={":t": {"S": f"{tenant_id}#{topic}"}},
        )
        for page in pages:
            for item in page.get("Items", []):
                if float(item[TTL_ATTRIBUTE]["N"]) <= now:
                    continue
                found.append(
                    GatewaySubscription(
                        connection_id=item["connection_id"]["S"],
                        operation_id=item["operation_id"]["S"],
                        tenant_id=item["tenant_id"]["S"],
                        topic=item["topic"]["S"],
                        query=item["query"]["S"],
                        variables=json.loads(item["variables"]["S"]),
                        operation_name=item.get("operation_name", {}).get("S"),
                        caller=_caller(item["caller"]["S"]),
                        expires_at=float(item[TTL_ATTRIBUTE]["N"]),
                    )
                )
        return found

    def close(self, connection_id: str) -> None:
        self._delete(self._members(connection_id))
        self.client.delete_item(
            TableName=self.connections, Key={"connection_id": {"S": connection_id}}
        )
