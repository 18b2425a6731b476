"""Frames a shared group writes itself (`api.graphql.frames`, `SharedSubscriptions._deliver`):
the frame headers of every length class, as the websockets library parses them; a member's
`next` frame written only while its operation is the registered one; plain results written,
and everything else (errors, extensions, an expired token, a full socket) through the member's
queue, after which nothing overtakes it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import ExecutionResult, GraphQLError
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from api.auth import Principal
from api.graphql.frames import NextFrames, text_frame_header
from api.graphql.shared import SharedSubscriptions, group_key
from tests.unit.test_shared_subscriptions import ALICE, QUERY, Source, codes, take


def parse(frame: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(frame)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        parsed: Frame = done.value
        return parsed
    raise AssertionError("the frame is incomplete")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_a_text_frame_header_of_every_length_class(size: int) -> None:
    payload = b"x" * size
    frame = parse(text_frame_header(size) + payload)
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


class Sink:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def open(self) -> bool:
        return not self.closing

    def backlog(self) -> int:
        return 0

    def write(self, frame: bytes) -> None:
        self.written.append(frame)


def test_next_frames_are_written_only_while_their_operation_is_registered() -> None:
    sink, first, second = Sink(), object(), object()
    operations: dict[str, object] = {}
    frames = NextFrames(sink, 'op"1', operations)  # type: ignore[arg-type]
    assert not frames.write(b"{}")  # not registered yet
    operations['op"1'] = frames.operation = first
    assert frames.write(b'{"n":1}')
    assert json.loads(parse(sink.written[-1]).data) == {
        "id": 'op"1', "type": "next", "payload": {"data": {"n": 1}},
    }  # fmt: skip
    operations['op"1'] = second  # completed, and the id reused by a new operation
    assert not frames.write(b'{"n":2}')
    del operations['op"1']
    assert not frames.write(b'{"n":3}')
    operations['op"1'] = first
    sink.closing = True
    assert not frames.write(b'{"n":4}')
    assert len(sink.written) == 1


class Frames:
    """A member's frames as the group sees them."""

    def __init__(self, backlog: int = 0) -> None:
        self.written: list[Any] = []
        self.held = backlog

    def write(self, data: bytes) -> bool:
        self.written.append(json.loads(data))
        return True

    def backlog(self) -> int:
        return self.held


def failed(code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError("no", extensions={"code": code})])


async def settle() -> None:
    await asyncio.sleep(0.01)


def join(shared: SharedSubscriptions, source: Source, caller: Principal, frames: Frames | None
         ) -> tuple[AsyncIterator[Any], asyncio.Future[Any]]:  # fmt: skip
    member = shared.join(group_key(QUERY, None, None, ALICE), caller, source.start, frames)
    return member, asyncio.ensure_future(anext(member))


def test_plain_results_are_written_and_an_error_goes_through_the_queue() -> None:
    async def scenario() -> None:
        shared, source, frames = SharedSubscriptions(), Source(), Frames()
        member, first = join(shared, source, ALICE, frames)
        plain, queued = join(shared, source, ALICE, None)
        await settle()
        for n in range(3):
            source.queue.put_nowait(ExecutionResult(data={"n": n}))
        await settle()
        assert frames.written == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert shared.frames_written == 3
        assert not first.done()  # nothing written came through the queue
        assert (await queued).data == {"n": 0}  # the member without frames: as before
        source.queue.put_nowait(failed("INTERNAL_SERVER_ERROR"))
        source.queue.put_nowait(None)  # an error ends the source
        assert codes(await asyncio.wait_for(first, 1)) == ["INTERNAL_SERVER_ERROR"]
        assert [r async for r in member] == []
        assert [r.data for r in await take(plain, 3)] == [{"n": 1}, {"n": 2}, None]

    asyncio.run(scenario())


def test_after_a_result_with_extensions_the_member_stays_on_its_queue() -> None:
    async def scenario() -> None:
        shared, source, frames = SharedSubscriptions(), Source(), Frames()
        member, first = join(shared, source, ALICE, frames)
        await settle()
        source.queue.put_nowait(ExecutionResult(data={"n": 0}, extensions={"cost": 1}))
        source.queue.put_nowait(ExecutionResult(data={"n": 1}))  # would overtake {"n": 0}
        await settle()
        assert frames.written == []
        assert (await asyncio.wait_for(first, 1)).data == {"n": 0}
        assert (await asyncio.wait_for(anext(member), 1)).data == {"n": 1}
        await member.aclose()  # type: ignore[attr-defined]
        assert shared.frames_written == 0

    asyncio.run(scenario())


def test_an_expired_member_is_ended_unauthenticated_not_written_to() -> None:
    async def scenario() -> None:
        shared, source, frames = SharedSubscriptions(), Source(), Frames()
        gone = Principal("carol", "acme", frozenset({"viewer"}), expires_at=time.time() - 3600)
        member, first = join(shared, source, gone, frames)
        await settle()
        source.queue.put_nowait(ExecutionResult(data={"n": 0}))
        assert codes(await asyncio.wait_for(first, 1)) == ["UNAUTHENTICATED"]
        assert frames.written == []
        assert [r async for r in member] == []

    asyncio.run(scenario())


def test_a_member_whose_socket_holds_too_much_back_is_dropped_alone() -> None:
    async def scenario() -> None:
        shared, source = SharedSubscriptions(backlog_limit=1000), Source()
        slow, fast = Frames(backlog=1001), Frames(backlog=1000)
        member, first = join(shared, source, ALICE, slow)
        _, waiting = join(shared, source, ALICE, fast)
        await settle()
        source.queue.put_nowait(ExecutionResult(data={"n": 0}))
        source.queue.put_nowait(ExecutionResult(data={"n": 1}))
        assert codes(await asyncio.wait_for(first, 1)) == ["SUBSCRIBER_TOO_SLOW"]
        assert [r async for r in member] == []
        await settle()
        assert (slow.written, fast.written) == ([], [{"n": 0}, {"n": 1}])
        waiting.cancel()

    asyncio.run(scenario())
