"""Subscription frames written below ASGI (issue 14; docs/api.md 13.6).

A shared subscription's result goes to every member of its group. Through ASGI each delivery
costs a task wake-up (the member's operation), strawberry's message, Starlette's and uvicorn's
send, and the websockets library's frame: about 90 us of CPU. Here the group writes each
member's `next` frame itself, straight onto the connection's transport: the result's JSON is
made once, and a member's frame is a header, its operation id and that JSON, one
`transport.write`.

`FleetWebSocketProtocol` is uvicorn's default websocket protocol (websockets' sans-I/O
implementation) that offers its connection to the application as the ASGI scope extension
`fleetwatch.frames` (a `FrameSink`). The server is started with it (`server_options`). Where the
extension is missing (another server, the test client) or a frame cannot be written as is
(per-message deflate negotiated: frames would have to be compressed in the connection's
context), the member takes the ASGI path, as before. Server frames are not masked
(RFC 6455 section 5.1), and a text frame written whole in one `transport.write` from the event
loop's thread never interleaves with the library's own frames (pings, close): they are written
from the same thread, each in one call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

SCOPE_KEY = "fleetwatch.frames"
_TEXT = 0x81  # FIN + opcode 1 (text)


def text_frame_header(size: int) -> bytes:
    """The header of an unmasked, unfragmented text frame of `size` payload bytes."""
    if size < 126:
        return bytes((_TEXT, size))
    if size < 65536:
        return bytes((_TEXT, 126)) + size.to_bytes(2, "big")
    return bytes((_TEXT, 127)) + size.to_bytes(8, "big")


class FrameSink:
    """One websocket connection, as the shared groups write to it."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @property
    def plain(self) -> bool:
        """Whether frames go out as they are (no extension such as per-message deflate)."""
        return not self._protocol.conn.extensions

    def open(self) -> bool:
        protocol = self._protocol
        return not (protocol.close_sent or protocol.disconnected or protocol.transport.is_closing())

    def backlog(self) -> int:
        """Bytes written and not yet taken by the socket."""
        return int(self._protocol.transport.get_write_buffer_size())

    def write(self, frame: bytes) -> None:
        self._protocol.transport.write(frame)


class NextFrames:
    """A member's `next` frames: its operation id, spliced around each result's JSON. Written
    only while its operation is the connection's registered one under that id (`operation`,
    set once strawberry registered it): after the client's `complete`, or once the id is reused
    by a new operation, nothing more is written for it."""

    __slots__ = ("_id", "_operations", "_prefix", "operation", "sink")

    def __init__(
        self, sink: FrameSink, operation_id: str, operations: Mapping[str, object]
    ) -> None:
        self.sink = sink
        self._id = operation_id
        self._operations = operations
        self.operation: object | None = None
        self._prefix = (
            f'{{"id":{json.dumps(operation_id)},"type":"next","payload":{{"data":'.encode()
        )

    def backlog(self) -> int:
        return self.sink.backlog()

    def write(self, data: bytes) -> bool:
        """Write the frame of a result whose `data` serialises to `data`; False when the
        operation is over or the connection closing (nothing written)."""
        live = self.operation is not None and self._operations.get(self._id) is self.operation
        if not live or not self.sink.open():
            return False
        size = len(self._prefix) + len(data) + 2
        self.sink.write(b"".join((text_frame_header(size), self._prefix, data, b"}}")))
        return True


def frame_sink(scope: Mapping[str, Any]) -> FrameSink | None:
    """The connection's sink, when its server offers one and frames may go out as they are."""
    sink = (scope.get("extensions") or {}).get(SCOPE_KEY)
    return sink if isinstance(sink, FrameSink) and sink.plain else None


class FleetWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol, offering its connection as `fleetwatch.frames`."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and self.response.status_code == 101:
            scope["extensions"][SCOPE_KEY] = FrameSink(self)


def server_options(ws_compression: bool, frames: bool = True) -> dict[str, Any]:
    """What uvicorn is started with, wherever the API is served (`fleetwatch serve`, the demo,
    the tests' live server): our websocket protocol, or with `frames` off uvicorn's own."""
    protocol = FleetWebSocketProtocol if frames else WebSocketsSansIOProtocol
    return {"ws": protocol, "ws_per_message_deflate": ws_compression}
