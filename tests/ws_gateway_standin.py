"""A small stand-in of API Gateway's WebSocket API, for the tests of
`fleetwatch.ws_gateway.websocket_handler` (issue 15 item 4): real websocket clients connect to
it, and it invokes the handler with the events API Gateway sends; the handler answers through
the `@connections` API over HTTP, with boto3, as it does on AWS.

- `ws://127.0.0.1:{port}/`: at the handshake the handler gets `$connect` (with the request's
  headers); a status other than 200 refuses the connection, and the subprotocol is the one
  the answer's `Sec-WebSocket-Protocol` names. Each text message is a `$default` invocation
  (one at a time per connection), a close a `$disconnect` one, unless `lose_disconnects` is
  set: then the gateway forgets the connection without telling the handler, as API Gateway
  may, and only a later `@connections` call learns it (410).
- `http://127.0.0.1:{http_port}/@connections/{id}`: POST sends the body as a text frame,
  DELETE closes the connection, GET answers 200; an unknown id is 410 `GoneException`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

Handler = Callable[[Mapping[str, Any], object], Mapping[str, Any]]


class StandInGateway:
    def __init__(self, handler: Handler, stage: str = "test") -> None:
        self.handler, self.stage = handler, stage
        self.lose_disconnects = False
        self.connections: dict[str, ServerConnection] = {}
        self.invocations: list[str] = []  # route keys, in order
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._http_handler())
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> None:
        self._thread.start()
        self._http_thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the stand-in gateway did not start")

    def stop(self) -> None:
        """Close every connection (telling the handler nothing) and stop serving."""
        self.lose_disconnects = True
        server = self._server

        async def close() -> None:
            if server is not None:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._http.shutdown()  # last: a handler still running may call it
        self._http.server_close()

    def _event(self, route: str, connection_id: str, **extra: Any) -> dict[str, Any]:
        context = {
            "routeKey": route,
            "connectionId": connection_id,
            "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
            "domainName": "127.0.0.1",
            "stage": self.stage,
        }
        return {"requestContext": context, **extra}

    def _invoke(self, event: dict[str, Any]) -> Mapping[str, Any]:
        self.invocations.append(event["requestContext"]["routeKey"])
        return self.handler(event, None)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await serve(
                self._client, "127.0.0.1", 0, process_request=self._connect,
                select_subprotocol=self._subprotocol, close_timeout=1,
            )  # fmt: skip
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        connection_id = uuid.uuid4().hex
        connection.fleetwatch_id = connection_id  # type: ignore[attr-defined]
        headers = dict(request.headers.raw_items())
        event = self._event("$connect", connection_id, headers=headers)
        answer = await asyncio.to_thread(self._invoke, event)
        status = int(answer.get("statusCode", 500))
        if status != HTTPStatus.OK:
            return connection.respond(HTTPStatus(status), str(answer.get("body", "")))
        named = (answer.get("headers") or {}).get("Sec-WebSocket-Protocol")
        connection.fleetwatch_subprotocol = named  # type: ignore[attr-defined]
        return None

    def _subprotocol(self, connection: ServerConnection, offered: Any) -> Any:
        named = getattr(connection, "fleetwatch_subprotocol", None)
        return named if named in offered else None

    async def _client(self, connection: ServerConnection) -> None:
        connection_id: str = connection.fleetwatch_id  # type: ignore[attr-defined]
        self.connections[connection_id] = connection
        try:
            async for message in connection:
                body = message if isinstance(message, str) else message.decode()
                event = self._event("$default", connection_id, body=body)
                await asyncio.to_thread(self._invoke, event)
        finally:
            gone = self.connections.pop(connection_id, None) is not None
            if gone and not self.lose_disconnects:
                await asyncio.to_thread(self._invoke, self._event("$disconnect", connection_id))

    def _http_handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class ConnectionsApi(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _connection(self) -> tuple[str, ServerConnection | None]:
                connection_id = self.path.rsplit("/", 1)[-1]
                return connection_id, gateway.connections.get(connection_id)

            def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                if status == HTTPStatus.GONE:
                    self.send_header("x-amzn-ErrorType", "GoneException")
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                _, connection = self._connection()
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                if connection is None:
                    return self._answer(HTTPStatus.GONE, {"message": None})
                sent = asyncio.run_coroutine_threadsafe(
                    connection.send(data.decode()), gateway._loop
                )
                try:
                    sent.result(5)
                except Exception:  # closed meanwhile
                    return self._answer(HTTPStatus.GONE, {"message": None})
                return self._answer(HTTPStatus.OK)

            def do_DELETE(self) -> None:
                connection_id, connection = self._connection()
                if connection is None:
                    return self._answer(HTTPStatus.GONE, {"message": None})
                gateway.connections.pop(connection_id, None)
                asyncio.run_coroutine_threadsafe(connection.close(1000), gateway._loop).result(5)
                return self._answer(HTTPStatus.NO_CONTENT)

            def do_GET(self) -> None:
                _, connection = self._connection()
                status = HTTPStatus.OK if connection is not None else HTTPStatus.GONE
                return self._answer(status, {"identity": {"sourceIp": "127.0.0.1"}})

        return ConnectionsApi
