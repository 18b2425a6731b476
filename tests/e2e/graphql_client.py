"""The GraphQL client the end-to-end tests share: queries over HTTP, and subscriptions over a
graphql-transport-ws connection, its frames (`connection_init` and its ack, `subscribe`,
`complete`, `next`/`error`) written here once, with the async harness the websocket scenarios
run in (`run`, `until`, the in-process fan-out's subscriber counts).

    async with ws_session(live_url, {"Authorization": viewer}) as ws:
        await subscribe(ws, "1", CHANGED, {"deviceId": device})
        await until(lambda: fanout_of(system).subscriber_count(tenant, "alert") == 1)
        change = (await next_message(ws))["payload"]["data"]["alertChanged"]
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.sync.client import ClientConnection as SyncClientConnection
from websockets.sync.client import connect as sync_connect
from websockets.typing import Subprotocol

from fleetwatch.bootstrap import System
from read_side.fanout_memory import InProcessFanout

PROTOCOL = "graphql-transport-ws"
# The longest a test waits for a message or a condition (a bound, never a pause: a message
# that arrives ends the wait). 5 s was once not enough on a two-core CI machine running four
# test workers (stop 28: a resumed telemetry subscription's batch; the same test passes in
# 2-3 s alone, and under two busy processes).
WAIT = 15.0
# One HTTP request: a mutation may wait 2 s for its read model (READ_YOUR_WRITES_TIMEOUT) and
# four test workers share two cores, so 5 s was once not enough (CI, stop 22). A hang is still
# caught by the scenario's own bound (`run(..., within)`).
HTTP_TIMEOUT = 30.0

Message = dict[str, Any]


def run(scenario: Callable[[], Awaitable[None]], within: float = 30) -> None:
    """Run an async scenario to its end, failing it after `within` seconds."""

    async def bounded() -> None:
        await asyncio.wait_for(scenario(), within)

    asyncio.run(bounded())


def fanout_of(system: System) -> InProcessFanout:
    assert isinstance(system.fanout, InProcessFanout)
    return system.fanout


async def until(check: Callable[[], bool], within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def graphql(base: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    """A query or mutation over HTTP; its `data`, asserted free of errors."""
    async with httpx.AsyncClient(base_url=f"http://{base}", timeout=HTTP_TIMEOUT) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": token},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def connect_ws(base: str, protocol: str = PROTOCOL) -> connect:
    """A websocket to the app's `/graphql` offering `protocol`, not yet initialised."""
    return connect(f"ws://{base}/graphql", subprotocols=[Subprotocol(protocol)])


def init_frame(payload: dict[str, Any]) -> str:
    return json.dumps({"type": "connection_init", "payload": payload})


def subscribe_frame(op_id: str, query: str, variables: dict[str, Any] | None = None) -> str:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return json.dumps({"id": op_id, "type": "subscribe", "payload": payload})


@asynccontextmanager
async def ws_session(
    base: str, init: dict[str, Any], within: float = WAIT
) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection, acknowledged."""
    async with connect_ws(base) as ws:
        await ws.send(init_frame(init))
        ack = await receive(ws, within)
        assert ack["type"] == "connection_ack", ack
        yield ws


async def subscribe(
    ws: ClientConnection, op_id: str, query: str, variables: dict[str, Any] | None = None
) -> None:
    await ws.send(subscribe_frame(op_id, query, variables))


async def complete(ws: ClientConnection, op_id: str) -> None:
    """Stop one subscription; the socket stays open."""
    await ws.send(json.dumps({"id": op_id, "type": "complete"}))


async def receive(ws: ClientConnection, within: float = WAIT) -> Message:
    """The next message but the server's pings, each answered with a pong (as clients do)."""
    while True:
        message: Message = json.loads(await asyncio.wait_for(ws.recv(), within))
        if message.get("type") != "ping":
            return message
        await ws.send(json.dumps({"type": "pong"}))


async def next_message(ws: ClientConnection, within: float = WAIT) -> Message:
    """The next message, asserted to be a `next` without errors."""
    message = await receive(ws, within)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message


def errors_of(message: Message) -> list[dict[str, Any]]:
    """A refused operation's errors: the `error` frame's payload, or a `next`'s `errors`."""
    errors: list[dict[str, Any]] = (
        message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    )
    return errors


@contextmanager
def sync_session(
    url: str, init: dict[str, Any], within: float = 10
) -> Iterator[SyncClientConnection]:
    """`ws_session` for a test without an event loop (`url`: the full `ws://.../graphql`)."""
    with sync_connect(url, subprotocols=[Subprotocol(PROTOCOL)]) as ws:
        ws.send(init_frame(init))
        ack = json.loads(ws.recv(timeout=within))
        assert ack["type"] == "connection_ack", ack
        yield ws
