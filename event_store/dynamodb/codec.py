"""Binary encoding of the events held by one commit item.

A commit item (stream chunk or feed chunk) stores its events in one Binary attribute ``b``:

    byte 0      format: 0 = raw body, 1 = zlib-compressed body
    body        u16 topic count, then per topic: u16 length + UTF-8 bytes
                [feed only] u32 originator count, then per originator: u8 kind (0 UUID, 1 str),
                            UUID: 16 bytes; str: u16 length + UTF-8 bytes
                u32 event count, then per event:
                  stream chunk: i64 version, u16 topic index, u32 offset in call, u32 state length,
                                state bytes
                  feed chunk:   u32 originator index, i64 version, u16 topic index,
                                u32 state length, state bytes

All integers are big-endian. In a feed chunk, event i has notification id ``first_id + i``; in a
stream chunk, the event's notification id is ``n0 + 1 + offset`` when the item has ``n0``.
Bodies larger than ``COMPRESS_MIN_BYTES`` are compressed when that saves at least 10 %.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import DataError, StoredEvent

FORMAT_RAW = 0
FORMAT_ZLIB = 1
COMPRESS_MIN_BYTES = 2048
COMPRESS_LEVEL = 1

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_STREAM_EVENT = struct.Struct(">qHII")
_FEED_EVENT = struct.Struct(">IqHI")

_MAX_U16 = 0xFFFF
_MAX_U32 = 0xFFFFFFFF
_MIN_I64 = -(2**63)
_MAX_I64 = 2**63 - 1


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One event of a stream chunk, as decoded."""

    version: int
    topic: str
    state: bytes
    offset: int


def check_event(event: StoredEvent) -> None:
    """Raise DataError when an event cannot be encoded."""
    if not _MIN_I64 <= event.originator_version <= _MAX_I64:
        msg = f"originator_version {event.originator_version} does not fit in 64 bits"
        raise DataError(msg)
    if not isinstance(event.state, bytes | bytearray | memoryview):
        msg = f"state must be bytes, not {type(event.state).__name__}"
        raise DataError(msg)
    if len(event.state) > _MAX_U32:
        msg = "state too large"
        raise DataError(msg)
    if len(event.topic.encode("utf-8")) > _MAX_U16:
        msg = "topic too long"
        raise DataError(msg)


def estimate_event_size(event: StoredEvent) -> int:
    """Upper bound of the bytes one event adds to a chunk body (before compression).

    Counts the event's header and state, plus its topic and originator id as if each event had
    its own table entry (UTF-8 takes at most 4 bytes per character).
    """
    return len(event.state) + 24 + 4 * (len(event.topic) + len(str(event.originator_id)))


def _pack_topics(topics: Sequence[str]) -> list[bytes]:
    parts = [_U16.pack(len(topics))]
    for topic in topics:
        raw = topic.encode("utf-8")
        parts.append(_U16.pack(len(raw)))
        parts.append(raw)
    return parts


def _pack_originator(originator_id: UUID | str) -> bytes:
    if isinstance(originator_id, UUID):
        return _U8.pack(0) + originator_id.bytes
    raw = str(originator_id).encode("utf-8")
    if len(raw) > _MAX_U16:
        msg = "originator_id too long"
        raise DataError(msg)
    return _U8.pack(1) + _U16.pack(len(raw)) + raw


def _finish(body: bytes) -> bytes:
    if len(body) >= COMPRESS_MIN_BYTES:
        compressed = zlib.compress(body, COMPRESS_LEVEL)
        if len(compressed) * 10 <= len(body) * 9:
            return _U8.pack(FORMAT_ZLIB) + compressed
    return _U8.pack(FORMAT_RAW) + body


def encode_stream_chunk(records: Sequence[tuple[int, StoredEvent]]) -> bytes:
    """Encode (offset in call, event) pairs of one stream, in version order."""
    topic_index: dict[str, int] = {}
    events: list[bytes] = [_U32.pack(len(records))]
    for offset, event in records:
        idx = topic_index.setdefault(event.topic, len(topic_index))
        state = bytes(event.state)
        events.append(_STREAM_EVENT.pack(event.originator_version, idx, offset, len(state)))
        events.append(state)
    if len(topic_index) > _MAX_U16:
        msg = "too many distinct topics in one commit"
        raise DataError(msg)
    return _finish(b"".join(_pack_topics(list(topic_index)) + events))


def encode_feed_chunk(events: Sequence[StoredEvent]) -> bytes:
    """Encode events of contiguous notification ids, in notification order."""
    topic_index: dict[str, int] = {}
    originator_index: dict[UUID | str, int] = {}
    originators: list[bytes] = []
    body: list[bytes] = [_U32.pack(len(events))]
    for event in events:
        t_idx = topic_index.setdefault(event.topic, len(topic_index))
        o_idx = originator_index.get(event.originator_id)
        if o_idx is None:
            o_idx = originator_index[event.originator_id] = len(originator_index)
            originators.append(_pack_originator(event.originator_id))
        state = bytes(event.state)
        body.append(_FEED_EVENT.pack(o_idx, event.originator_version, t_idx, len(state)))
        body.append(state)
    if len(topic_index) > _MAX_U16:
        msg = "too many distinct topics in one commit"
        raise DataError(msg)
    head = [*_pack_topics(list(topic_index)), _U32.pack(len(originators)), *originators]
    return _finish(b"".join(head + body))


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, blob: bytes) -> None:
        fmt = blob[0]
        if fmt == FORMAT_RAW:
            self.buf = memoryview(blob)[1:]
        elif fmt == FORMAT_ZLIB:
            self.buf = memoryview(zlib.decompress(memoryview(blob)[1:]))
        else:
            msg = f"unknown commit blob format {fmt}"
            raise DataError(msg)
        self.pos = 0

    def u8(self) -> int:
        (value,) = _U8.unpack_from(self.buf, self.pos)
        self.pos += 1
        return int(value)

    def u16(self) -> int:
        (value,) = _U16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return int(value)

    def u32(self) -> int:
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def raw(self, length: int) -> bytes:
        start = self.pos
        self.pos += length
        return bytes(self.buf[start : self.pos])

    def topics(self) -> list[str]:
        return [self.raw(self.u16()).decode("utf-8") for _ in range(self.u16())]


def decode_stream_chunk(blob: bytes) -> list[StreamRecord]:
    """Decode a stream chunk written by :func:`encode_stream_chunk`."""
    reader = _Reader(blob)
    topics = reader.topics()
    records: list[StreamRecord] = []
    for _ in range(reader.u32()):
        version, t_idx, offset, length = _STREAM_EVENT.unpack_from(reader.buf, reader.pos)
        reader.pos += _STREAM_EVENT.size
        records.append(StreamRecord(version, topics[t_idx], reader.raw(length), offset))
    return records


def decode_feed_chunk(blob: bytes) -> list[StoredEvent]:
    """Decode a feed chunk written by :func:`encode_feed_chunk` (notification order)."""
    reader = _Reader(blob)
    topics = reader.topics()
    originators: list[UUID | str] = []
    for _ in range(reader.u32()):
        if reader.u8() == 0:
            originators.append(UUID(bytes=reader.raw(16)))
        else:
            originators.append(reader.raw(reader.u16()).decode("utf-8"))
    events: list[StoredEvent] = []
    for _ in range(reader.u32()):
        o_idx, version, t_idx, length = _FEED_EVENT.unpack_from(reader.buf, reader.pos)
        reader.pos += _FEED_EVENT.size
        events.append(
            StoredEvent(
                originator_id=originators[o_idx],
                originator_version=version,
                topic=topics[t_idx],
                state=reader.raw(length),
            )
        )
    return events
