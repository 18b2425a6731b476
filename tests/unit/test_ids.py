"""Random UUIDs from the buffered source (event_store/ids.py)."""

from __future__ import annotations

import os
import threading
from uuid import UUID

from event_store.ids import new_uuid4


def test_ids_are_version_4_rfc_4122_and_unique() -> None:
    ids = [new_uuid4() for _ in range(5000)]  # crosses many buffer refills
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}
    assert all(UUID(i.hex) == i for i in ids[:10])


def test_threads_draw_different_ids() -> None:
    drawn: list[list[UUID]] = [[] for _ in range(4)]

    def draw(into: list[UUID]) -> None:
        into.extend(new_uuid4() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(d,)) for d in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for d in drawn for i in d]
    assert len(set(everything)) == len(everything) == 8000


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_uuid4()  # the buffer now holds unread randomness that the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave at once
        os.close(read)
        os.write(write, b"".join(new_uuid4().bytes for _ in range(4)))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(new_uuid4().bytes for _ in range(4))
    assert len(child) == 64
    assert child != parent
    assert not {child[k : k + 16] for k in range(0, 64, 16)} & {
        parent[k : k + 16] for k in range(0, 64, 16)
    }
