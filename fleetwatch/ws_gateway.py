"""GraphQL subscriptions through API Gateway's WebSocket API (issue 15 item 4), wired: the
Lambda entry `websocket_handler` (routes `$connect`, `$disconnect`, `$default`), the
`@connections` API through boto3 (`ManagementApi`), and `GatewayFanout`, the fan-out of the
projector function when `FLEETWATCH_WS_GATEWAY_ENDPOINT` is set: each change notice goes to the
subscriptions stored through the gateway (`api.graphql.gateway_publish`).

The gateway's endpoint for `@connections` is `https://{domainName}/{stage}` of the event, or
`FLEETWATCH_WS_GATEWAY_ENDPOINT` (a stand-in in the tests). Only the `graphql-transport-ws`
subprotocol is accepted at `$connect`: the answer names it, as a websocket server's would.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

from api.graphql.gateway import GatewayProtocol
from api.graphql.gateway_dynamodb import DynamoDBGatewayStore
from api.graphql.gateway_publish import GatewayPublisher
from api.graphql.schema import build_schema
from api.ports import FleetSystem
from event_store.dynamodb.client import create_client
from fleetwatch.settings import Settings
from read_side.notifications import ChangeNotice, ChangeSubscriber, Fanout

if TYPE_CHECKING:
    from fleetwatch.system import System

SUBPROTOCOL = "graphql-transport-ws"


class ManagementApi:
    """API Gateway's `@connections` API (boto3 `apigatewaymanagementapi`)."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.client = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region
        )

    def post(self, connection_id: str, data: bytes) -> bool:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self.client.exceptions.GoneException:
            return False
        return True

    def disconnect(self, connection_id: str) -> None:
        with contextlib.suppress(self.client.exceptions.GoneException):
            self.client.delete_connection(ConnectionId=connection_id)


def gateway_store(settings: Settings) -> DynamoDBGatewayStore:
    client = create_client(settings.dynamodb_endpoint_url, settings.dynamodb_region)
    return DynamoDBGatewayStore(
        client, settings.dynamodb_table_prefix, create_tables=settings.create_tables
    )


class GatewayFanout(Fanout):
    """Publishes to the gateway's stored subscriptions; subscribes nobody (the gateway's
    clients subscribe through `websocket_handler`). Bound to its system once built (`bind`)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.ws_gateway_endpoint is not None
        self.store = gateway_store(settings)
        self.connections = ManagementApi(settings.ws_gateway_endpoint, settings.dynamodb_region)
        self.publisher: GatewayPublisher | None = None

    def bind(self, system: FleetSystem) -> None:
        self.publisher = GatewayPublisher(system, build_schema(), self.store, self.connections)

    def publish(self, notice: ChangeNotice) -> None:
        if self.publisher is None:
            raise RuntimeError("GatewayFanout.bind(system) was not called")
        self.publisher.publish(notice)

    def subscribe(self, tenant_id: str, topic: str) -> Any:
        raise NotImplementedError("the gateway's clients subscribe through websocket_handler")

    subscribe.__doc__ = ChangeSubscriber.subscribe.__doc__


_lock = threading.Lock()
_protocols: dict[str, GatewayProtocol] = {}
_system: System | None = None


def websocket_handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    """One API Gateway WebSocket event: `$connect`, `$disconnect` or a message (`$default`)."""
    from fleetwatch.secrets import load_secrets
    from fleetwatch.system import build_system

    global _system  # noqa: PLW0603 - one system per warm execution environment
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), str(request.get("connectionId", ""))
    with _lock:
        if _system is None:
            load_secrets()
            _system = build_system(Settings())
        settings = _system.settings  # read once per warm environment, not per message
        endpoint = settings.ws_gateway_endpoint or (
            f"https://{request.get('domainName')}/{request.get('stage')}"
        )
        protocol = _protocols.get(endpoint)
        if protocol is None:
            connections = ManagementApi(endpoint, settings.dynamodb_region)
            protocol = GatewayProtocol(
                _system, build_schema(), gateway_store(settings), connections
            )
            _protocols[endpoint] = protocol
    if route == "$connect":
        offered = _header(event, "sec-websocket-protocol")
        if SUBPROTOCOL not in [p.strip() for p in offered.split(",")]:
            return {"statusCode": 400, "body": f"the subprotocol must be {SUBPROTOCOL}"}
        protocol.connect(connection_id)
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": SUBPROTOCOL}}
    if route == "$disconnect":
        protocol.disconnect(connection_id)
        return {"statusCode": 200}
    protocol.message(connection_id, str(event.get("body") or ""))
    return {"statusCode": 200}


def _header(event: Mapping[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return ""
