"""A lazy change notice builds its body only when read, once, and is the eager notice of the
same body; the in-process fan-out offers a notice of a topic nobody subscribed to to nobody, so
its body is never built (the projections' "notice bodies built for nobody")."""

from __future__ import annotations

import asyncio
from typing import Any

from read_side.fanout_memory import InProcessFanout
from read_side.notifications import ChangeNotice, LazyChangeNotice

BODY = {"name": "p1", "battery": 0.5}


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return dict(BODY)


def lazy(build: Counting, topic: str = "device_status") -> LazyChangeNotice:
    return LazyChangeNotice("acme", topic, "d1", 7, "Telemetry.BatchRecorded", build)


def test_built_once_when_read_and_equal_to_the_eager_notice() -> None:
    build = Counting()
    notice = lazy(build)
    assert build.calls == 0
    eager = ChangeNotice("acme", "device_status", "d1", 7, "Telemetry.BatchRecorded", BODY)
    assert notice == eager
    assert eager == notice
    assert notice.to_json() == eager.to_json()
    assert ChangeNotice.from_json(notice.to_json()) == eager
    assert notice.data is notice.data
    assert build.calls == 1


def test_the_in_process_fanout_builds_no_body_for_a_topic_nobody_follows() -> None:
    async def scenario() -> tuple[int, int, dict[str, Any]]:
        fanout = InProcessFanout()
        unheard, heard = Counting(), Counting()
        stream = fanout.subscribe("acme", "device")
        fanout.publish(lazy(unheard))  # device_status: nobody subscribed
        fanout.publish(lazy(heard, "device"))
        received = (await anext(stream)).data
        await stream.aclose()
        fanout.close()
        return unheard.calls, heard.calls, received

    unheard_calls, heard_calls, data = asyncio.run(scenario())
    assert (unheard_calls, data, heard_calls) == (0, BODY, 1)
