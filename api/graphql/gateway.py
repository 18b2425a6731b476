"""GraphQL subscriptions through API Gateway's WebSocket API (issue 15 item 4): the
graphql-transport-ws protocol when every message is a function invocation and every answer a
POST to the gateway's `@connections` API, on the same strawberry schema and resolvers.

- `GatewayProtocol`: a connection's messages (`$connect`, `$default`, `$disconnect`).
  `connection_init` authenticates the token of its payload once (the caller is stored with the
  connection); `ping` is answered `pong`; `subscribe` runs the subscription once at once, with a
  fan-out that only notes which topic the resolver subscribes to and yields nothing: with a
  cursor (`after`) that run sends the backfill, as on a websocket server; then the subscription
  is stored under its tenant and topic; `complete` removes it. A message out of protocol (not
  JSON, unknown type, a subscribe before `connection_init`, an id in use) ends the connection.
- `GatewayPublisher` (`ChangePublisher`, api/graphql/gateway_publish.py): a change notice runs
  each group of identical stored subscriptions (document, variables, tenant, roles) once, with a
  fan-out that yields that one notice, and posts the result to each member. A member whose
  connection is gone (410) is removed with its connection, one whose token expired is sent
  SUBSCRIPTION_EXPIRED and removed, a result over the gateway's 128 KB frame is sent as an error
  naming it.

Stores and the gateway are ports (`GatewayStore`, `GatewayConnections`): DynamoDB tables with
TTL and API Gateway's management API on AWS (`api/graphql/gateway_dynamodb.py`,
`fleetwatch/ws_gateway.py`), a stand-in in the tests.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api.auth import Principal, Unauthenticated, authenticate
from api.graphql.gateway_runs import (
    NOT_ON_GATEWAY,
    GatewayParts,
    GatewaySubscription,
    RunFanout,
    frame,
    root_fields,
    run_once,
    send_error,
    send_result,
    without_cursor,
)

CONNECTION_TTL_S = 2 * 3600 + 300  # the gateway ends a connection after 2 hours


class GatewayProtocol(GatewayParts):
    """One connection's messages; `schema` the API's, `system` the built system."""

    def connect(self, connection_id: str) -> None:
        self.store.open(connection_id, self.clock() + CONNECTION_TTL_S)

    def disconnect(self, connection_id: str) -> None:
        self.store.close(connection_id)

    def message(self, connection_id: str, body: str) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(kind, str):
            return self._end(connection_id)
        connection = self.store.connection(connection_id)
        if connection is None:
            return self._end(connection_id)
        expires_at, caller = connection
        if kind == "ping":
            self.connections.post(connection_id, frame({"type": "pong"}))
        elif kind == "pong":
            pass
        elif kind == "connection_init":
            self._init(connection_id, caller, message.get("payload"))
        elif kind == "subscribe" and caller is not None:
            self._subscribe(connection_id, caller, expires_at, message)
        elif kind == "complete" and caller is not None and isinstance(message.get("id"), str):
            self.store.unsubscribe(connection_id, message["id"])
        else:
            self._end(connection_id)
        return None

    def _end(self, connection_id: str) -> None:
        self.store.close(connection_id)
        self.connections.disconnect(connection_id)

    def _init(self, connection_id: str, caller: Principal | None, payload: object) -> None:
        if caller is not None:  # a second connection_init: 4429 on a websocket server
            return self._end(connection_id)
        params = payload if isinstance(payload, dict) else {}
        token = params.get("token") or str(params.get("Authorization", "")).removeprefix("Bearer ")
        try:
            principal = authenticate(str(token), self.system.settings)
        except Unauthenticated:
            return self._end(connection_id)
        self.store.authenticate(connection_id, principal)
        self.connections.post(connection_id, frame({"type": "connection_ack"}))
        return None

    def _subscribe(
        self, connection_id: str, caller: Principal, expires_at: float, message: dict[str, Any]
    ) -> None:
        operation_id, payload = message.get("id"), message.get("payload")
        if not isinstance(operation_id, str) or not isinstance(payload, dict):
            return self._end(connection_id)
        if self.store.has(connection_id, operation_id):  # 4409 on a websocket server
            return self._end(connection_id)
        query, variables = payload.get("query"), payload.get("variables")
        operation_name = payload.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, (dict, type(None))):
            return self._end(connection_id)
        if root_fields(query) & NOT_ON_GATEWAY:  # an `error` ends the operation: no `complete`
            send_error(self.connections, connection_id, operation_id, "NOT_ON_GATEWAY",
                       "this subscription is not served through the gateway")  # fmt: skip
            return None
        fanout = RunFanout()
        subscription = (
            query,
            variables,
            operation_name if isinstance(operation_name, str) else None,
        )
        try:
            results = asyncio.run(run_once(self.schema, self.system, subscription, caller, fanout))
        except TimeoutError:
            send_error(self.connections, connection_id, operation_id, "TIMEOUT",
                       "the subscription did not start in time")  # fmt: skip
            return None
        for result in results:
            sent = send_result(self.connections, connection_id, operation_id, result)
            if sent == "gone":
                return self.store.close(connection_id)
            if sent == "error":
                return None  # the operation ended with it
        if any(result.errors for result in results):  # sent as `next`: the run ends here
            self.connections.post(connection_id, frame({"type": "complete", "id": operation_id}))
            return None
        if not fanout.topics:
            send_error(self.connections, connection_id, operation_id, "NOT_ON_GATEWAY",
                       "this subscription is not served through the gateway")  # fmt: skip
            return None
        live_query, dropped = without_cursor(query)
        live_variables = {k: v for k, v in (variables or {}).items() if k not in dropped}
        live = (live_query, live_variables or None, subscription[2])
        for topic in dict.fromkeys(fanout.topics):
            self.store.subscribe(
                GatewaySubscription(
                    connection_id, operation_id, caller.tenant_id, topic, *live, caller, expires_at
                )
            )
        return None
