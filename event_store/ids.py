"""Random (version 4) UUIDs without a system call each.

`uuid.uuid4()` calls `os.urandom(16)`, and CPython lets go of the GIL around that call; in a busy
process, taking it back waits out another thread's switch interval (up to 5 ms). An event id per
stored event made a 200-event telemetry commit wait ~90 ms beside one busy thread. Here the same
kernel randomness is read 4 KB at a time (256 ids per call), per thread, and a child process
made by `fork` starts with a fresh buffer, so it never repeats its parent's ids.
"""

from __future__ import annotations

import os
import threading
from uuid import UUID

_BLOCK = 4096  # bytes of randomness per os.urandom call


class _Buffer(threading.local):
    def __init__(self) -> None:
        self.data = b""
        self.offset = 0


_buffer = _Buffer()


def _forget_after_fork() -> None:
    # The child's only thread is the one that forked: forget what its buffer holds.
    _buffer.data, _buffer.offset = b"", 0


os.register_at_fork(after_in_child=_forget_after_fork)


def new_uuid4() -> UUID:
    """A random UUID, as `uuid.uuid4()` makes (the same source: `os.urandom`)."""
    buffer = _buffer
    start = buffer.offset
    if start + 16 > len(buffer.data):
        buffer.data, start = os.urandom(_BLOCK), 0
    buffer.offset = start + 16
    return UUID(bytes=buffer.data[start : start + 16], version=4)
