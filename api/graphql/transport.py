"""The graphql-transport-ws handler of /graphql (issue 14; docs/api.md 13.6): strawberry's, plus

- **one serialisation per result**: members of a shared group (`api.graphql.shared`) get the
  same `data` object; its JSON is made once (`SerialisedResults`, by identity) and spliced into
  each member's `next` frame beside its id;
- **the connection's frames for the group**: a subscription being started finds its
  `NextFrames` in `SUBSCRIBING` (when the server offers its connection, `api.graphql.frames`),
  so its group writes its plain results' frames itself;
- **protocol pings**: after `connection_ack`, a `ping` every `ping_seconds`; a client that has
  not answered one with a `pong` (or any message) within `pong_seconds` is closed with 4408
  ("pong timeout"), so half-open sockets (a phone that left the network) do not hold
  subscriptions; most clients answer pings by themselves (graphql-ws does).

At most 100 operations per connection is strawberry's default
(`max_subscriptions_per_connection`), kept: the 101st gets an `error` "Subscription limit
reached".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message,
    PongMessage,
    SubscribeMessage,
)

from api.graphql.context import GraphQLContext
from api.graphql.frames import NextFrames, frame_sink

PING_SECONDS = 15.0
PONG_SECONDS = 10.0
PONG_TIMEOUT = 4408


class SerialisedResults:
    """The JSON of the last `size` result `data` objects sent, by identity (the object is kept
    with its text, so an id is never reused while cached), as text and as UTF-8 bytes."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.cache: OrderedDict[int, tuple[object, str, bytes]] = OrderedDict()
        self.made = 0  # serialisations done (a hit costs none)

    def text(self, data: object) -> str:
        return self._serialised(data)[1]

    def utf8(self, data: object) -> bytes:
        return self._serialised(data)[2]

    def _serialised(self, data: object) -> tuple[object, str, bytes]:
        found = self.cache.get(id(data))
        if found is not None and found[0] is data:
            return found
        text = json.dumps(data, separators=(",", ":"))
        self.made += 1
        made = self.cache[id(data)] = (data, text, text.encode())
        if len(self.cache) > self.size:
            self.cache.popitem(last=False)
        return made


SERIALISED = SerialisedResults()


# The operation being subscribed and its connection's frames, while strawberry starts it: the
# operation's task copies this context, so `FleetSchema.stream` finds them there.
SUBSCRIBING: ContextVar[NextFrames | None] = ContextVar("fleetwatch_subscribing", default=None)


class FleetTransportWSHandler(BaseGraphQLTransportWSHandler[GraphQLContext, None]):
    ping_seconds = PING_SECONDS
    pong_seconds = PONG_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heard = time.monotonic()
        self._pinger: asyncio.Task[None] | None = None

    async def handle_message(self, message: Message) -> None:
        self._heard = time.monotonic()  # any message shows the client is there
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        adapter = self.websocket
        sink = frame_sink(adapter.ws.scope) if isinstance(adapter, ASGIWebSocketAdapter) else None
        operation_id = str(message.get("id"))
        frames = None if sink is None else NextFrames(sink, operation_id, self.operations)
        token = SUBSCRIBING.set(frames)
        try:
            await super().handle_subscribe(message)
        finally:
            SUBSCRIBING.reset(token)
        if frames is not None:  # the operation its frames belong to (none if refused)
            frames.operation = self.operations.get(operation_id)

    async def handle_pong(self, message: PongMessage) -> None:
        self._heard = time.monotonic()

    async def send_message(self, message: Message) -> None:
        if message.get("type") == "connection_ack" and self._pinger is None:
            self._pinger = asyncio.create_task(self._ping())
        payload = message.get("payload")
        if (
            message.get("type") != "next"
            or not isinstance(payload, dict)
            or set(payload) != {"data"}
        ):
            await super().send_message(message)
            return
        data = SERIALISED.text(payload["data"])
        operation = json.dumps(message.get("id"))
        frame = f'{{"id":{operation},"type":"next","payload":{{"data":{data}}}}}'
        adapter = self.websocket
        assert isinstance(adapter, ASGIWebSocketAdapter)
        try:
            await adapter.ws.send_text(frame)
        except WebSocketDisconnect as e:
            raise WebSocketDisconnected from e

    async def shutdown(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
        await super().shutdown()

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            sent = time.monotonic()
            with contextlib.suppress(WebSocketDisconnected, RuntimeError):
                await super().send_message({"type": "ping"})
            await asyncio.sleep(self.pong_seconds)
            if self._heard < sent:
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=PONG_TIMEOUT, reason="pong timeout")
                return
