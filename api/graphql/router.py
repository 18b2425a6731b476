"""The GraphQL endpoint at /graphql: HTTP (GraphiQL on GET) and graphql-transport-ws only.

HTTP requests authenticate with their `Authorization: Bearer` header; a websocket with the token
in its `connection_init` payload (`{"Authorization": "Bearer ..."}` or `{"token": "..."}`),
refused with 4403 when it is missing or invalid.
"""

from __future__ import annotations

import json

from anyio import to_thread
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from api.auth import Unauthenticated, authenticate, bearer_token, caller_from_header
from api.graphql.context import GraphQLContext
from api.graphql.schema import build_schema
from api.graphql.shared import SharedSubscriptions
from api.graphql.transport import FleetTransportWSHandler
from api.ports import FleetSystem


class FleetGraphQLRouter(GraphQLRouter[GraphQLContext, None]):
    graphql_transport_ws_handler_class = FleetTransportWSHandler

    def __init__(self, system: FleetSystem, path: str = "/graphql") -> None:
        self.system = system
        # Live subscriptions executed once per group (issue 14); off: once per subscriber.
        # (A router built for its schema alone, e.g. the OpenAPI tests', has no system.)
        on = system is not None and system.settings.shared_subscriptions
        self.shared = SharedSubscriptions() if on else None

        def context(connection: HTTPConnection) -> GraphQLContext:
            # Sync: FastAPI runs it in a worker thread (a JWKS fetch may block).
            if isinstance(connection, WebSocket):
                return GraphQLContext(system, None)  # authenticated by on_ws_connect
            header = connection.headers.get("authorization")
            return GraphQLContext(system, caller_from_header(header, system.settings))

        super().__init__(
            build_schema(self.shared),
            path=path,
            graphql_ide="graphiql",
            context_getter=context,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            include_in_schema=False,
        )

    def decode_json(self, data: str | bytes) -> object:
        """JSON nested too deeply for the parser is a 400 like any unparsable body, not a 500."""
        try:
            return json.loads(data)
        except RecursionError as e:
            raise json.JSONDecodeError("nested too deeply", "", 0) from e

    async def on_ws_connect(self, context: GraphQLContext) -> UnsetType | dict[str, object] | None:
        params = context.connection_params
        try:
            token = _token(params if isinstance(params, dict) else {})
            context.caller = await to_thread.run_sync(authenticate, token, self.system.settings)
        except Unauthenticated as e:
            raise ConnectionRejectionError({"code": e.code, "message": e.message}) from None
        return UnsetType()  # acknowledge without a payload


def _token(params: dict[str, object]) -> str:
    token = params.get("token")
    if isinstance(token, str) and token:
        return token
    header = params.get("Authorization", params.get("authorization"))
    found = bearer_token(header) if isinstance(header, str) else None
    if found is None:
        raise Unauthenticated("connection_init must carry {'Authorization': 'Bearer <token>'}")
    return found
