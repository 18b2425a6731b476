"""GraphQL subscriptions through API Gateway's WebSocket API (issue 15 item 4):
`fleetwatch.ws_gateway.websocket_handler` behind a stand-in of the gateway
(tests/ws_gateway_standin.py), a real websocket client speaking graphql-transport-ws, the
connections and subscriptions on DynamoDB Local, and the projector's fan-out posting changes
through the gateway's `@connections` API with boto3."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.auth import issue_token
from event_store.envelope import EventMetadata
from fleetwatch import ws_gateway
from fleetwatch.bootstrap import System, build_system
from fleetwatch.lambdas import project
from fleetwatch.settings import Settings
from tests.ws_gateway_standin import StandInGateway
from write_side.commands import RegisterDevice

pytestmark = pytest.mark.dynamodb
META = EventMetadata("acme", "user:alice")
STATUS = """subscription($after: String) {
  deviceStatusChanged(after: $after) { eventType position device { id name } } }"""
SUBPROTOCOL = "graphql-transport-ws"


@pytest.fixture
def settings(
    dynamodb_endpoint: str, table_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    values = {
        "FLEETWATCH_STORE": "dynamodb",
        "FLEETWATCH_DYNAMODB_ENDPOINT_URL": dynamodb_endpoint,
        "FLEETWATCH_DYNAMODB_TABLE_PREFIX": table_prefix,
        "FLEETWATCH_RUN_PROJECTIONS": "false",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(ws_gateway, "_system", None)
    monkeypatch.setattr(ws_gateway, "_protocols", {})
    yield Settings()
    if ws_gateway._system is not None:
        ws_gateway._system.close()  # type: ignore[attr-defined]


@pytest.fixture
def gateway(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGateway]:
    standin = StandInGateway(ws_gateway.websocket_handler)
    standin.start()
    monkeypatch.setenv("FLEETWATCH_WS_GATEWAY_ENDPOINT", standin.management_url)
    yield standin
    standin.stop()


@pytest.fixture
def projector(settings: Settings, gateway: StandInGateway) -> Iterator[System]:
    """The projector function's system: its fan-out posts through the gateway."""
    system = build_system(
        settings.model_copy(update={"ws_gateway_endpoint": gateway.management_url})
    )
    system.fanout.bind(system)  # type: ignore[attr-defined]
    yield system
    system.close()


def token(roles: tuple[str, ...] = ("viewer",), tenant: str = "acme") -> str:
    return issue_token(Settings(), "alice", tenant, list(roles), 3600)


async def receive(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
    return message


async def session(url: str, bearer: str) -> ClientConnection:
    ws = await connect(url, subprotocols=[SUBPROTOCOL])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}})
    )
    assert await receive(ws) == {"type": "connection_ack"}
    return ws


async def subscribe_status(
    ws: ClientConnection, variables: dict[str, Any] | None = None, tenant: str = "acme"
) -> None:
    """Subscribe (operation "1") to the tenant's device status changes, and wait until the
    gateway's store holds it (the protocol has no acknowledgement of a subscribe)."""
    store = ws_gateway.gateway_store(Settings())

    def connections() -> set[str]:
        return {s.connection_id for s in store.subscribers(tenant, "device_status")}

    before = await asyncio.to_thread(connections)
    payload = {"query": STATUS, "variables": variables or {}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    for _ in range(200):
        if await asyncio.to_thread(connections) - before:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the subscription was not stored")


def changes(system: System, name: str) -> None:
    system.device_service.register(RegisterDevice(name=name, device_type="pump"), META)
    project(system, ["device_status"])


def test_subscribe_receive_ping_and_complete(gateway: StandInGateway, projector: System) -> None:
    async def scenario() -> None:
        ws = await session(gateway.url, token())
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}
        await subscribe_status(ws)
        await asyncio.to_thread(changes, projector, "pump-1")
        message = await receive(ws)
        assert message["id"] == "1"
        assert message["type"] == "next", message
        change = message["payload"]["data"]["deviceStatusChanged"]
        assert change["device"]["name"] == "pump-1"
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(changes, projector, "pump-2")
        with pytest.raises(TimeoutError):
            await receive(ws, wait=1)
        await ws.close()

    asyncio.run(scenario())
    for _ in range(100):  # the gateway tells the handler of the close after the client closed
        if "$disconnect" in gateway.invocations:
            break
        time.sleep(0.05)
    assert gateway.invocations[0] == "$connect"
    assert gateway.invocations[-1] == "$disconnect"


def test_another_tenant_sees_nothing(gateway: StandInGateway, projector: System) -> None:
    async def scenario() -> None:
        ws = await session(gateway.url, token(tenant="globex"))
        await subscribe_status(ws, tenant="globex")
        await asyncio.to_thread(changes, projector, "pump-1")
        with pytest.raises(TimeoutError):
            await receive(ws, wait=1)
        await ws.close()

    asyncio.run(scenario())


def test_resume_with_the_cursor_after_the_gateway_ended_the_connection(
    gateway: StandInGateway, projector: System
) -> None:
    async def scenario() -> None:
        ws = await session(gateway.url, token())
        await subscribe_status(ws)
        await asyncio.to_thread(changes, projector, "pump-1")
        cursor = (await receive(ws))["payload"]["data"]["deviceStatusChanged"]["position"]
        await ws.close()  # the 2-hour limit, say
        await asyncio.to_thread(changes, projector, "pump-2")  # while away
        ws = await session(gateway.url, token())
        await subscribe_status(ws, {"after": str(cursor)})
        missed = (await receive(ws))["payload"]["data"]["deviceStatusChanged"]
        assert missed["device"]["name"] == "pump-2"
        assert missed["position"] > cursor
        await asyncio.to_thread(changes, projector, "pump-3")  # then live, once
        live = (await receive(ws))["payload"]["data"]["deviceStatusChanged"]
        assert live["device"]["name"] == "pump-3"
        with pytest.raises(TimeoutError):
            await receive(ws, wait=1)
        await ws.close()

    asyncio.run(scenario())


def test_a_connection_gone_without_disconnect_is_cleaned_up_on_410(
    gateway: StandInGateway, projector: System
) -> None:
    store = ws_gateway.gateway_store(Settings())

    async def scenario() -> None:
        ws = await session(gateway.url, token())
        await subscribe_status(ws)
        assert len(store.subscribers("acme", "device_status")) == 1
        gateway.lose_disconnects = True
        await ws.close()
        await asyncio.sleep(0.2)

    asyncio.run(scenario())
    assert len(store.subscribers("acme", "device_status")) == 1  # nobody told the handler
    changes(projector, "pump-1")  # the post is answered 410: the connection is forgotten
    assert store.subscribers("acme", "device_status") == []


def test_out_of_protocol_messages_end_the_connection(gateway: StandInGateway) -> None:
    async def scenario() -> None:
        # a subscribe before connection_init
        ws = await connect(gateway.url, subprotocols=[SUBPROTOCOL])  # type: ignore[list-item]
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": STATUS}}))
        with pytest.raises(ConnectionClosed):
            await receive(ws)
        # a bad token
        ws = await connect(gateway.url, subprotocols=[SUBPROTOCOL])  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": "nope"}}))
        with pytest.raises(ConnectionClosed):
            await receive(ws)
        # not JSON, after a good start
        ws = await session(gateway.url, token())
        await ws.send("{not json")
        with pytest.raises(ConnectionClosed):
            await receive(ws)
        # an invalid document is an error for that operation, the connection stays
        ws = await session(gateway.url, token())
        query = {"query": "subscription { nope }"}
        await ws.send(json.dumps({"id": "7", "type": "subscribe", "payload": query}))
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["id"] == "7"  # and nothing after it for "7", not even `complete`
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}
        await ws.close()

    asyncio.run(scenario())


def test_only_graphql_transport_ws_is_accepted(gateway: StandInGateway) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus):
            await connect(gateway.url, subprotocols=["graphql-ws"])  # type: ignore[list-item]

    asyncio.run(scenario())


def test_the_events_trail_is_not_served_through_the_gateway(gateway: StandInGateway) -> None:
    """It reads the feed itself and waits at its head: an invocation can not; it is refused
    at once, and the connection stays."""

    async def scenario() -> None:
        ws = await session(gateway.url, token(("auditor",)))
        query = {"query": "subscription { events { cursor type } }"}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": query}))
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["payload"][0]["extensions"]["code"] == "NOT_ON_GATEWAY"
        await ws.send(json.dumps({"type": "ping"}))  # the next frame: no `complete` for "1"
        assert await receive(ws) == {"type": "pong"}
        await ws.close()

    asyncio.run(scenario())
