"""The handler and redeliveries older than the stream's window: it asks raw history (the
`RawHistory` port) only about the messages the window cannot vouch for; found is a duplicate,
recorded nowhere; not found (or not askable) is recorded, marked late, for the read model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import pytest

from tests.unit.test_ingestion_handler import Fleet, message
from write_side.ingestion import Submission
from write_side.telemetry_log import telemetry_id


class History:
    """Raw history as the read model would answer, from what the test says it holds."""

    def __init__(self, held: set[str] | None = None) -> None:
        self.held = held or set()
        self.asked: list[list[str]] = []
        self.down = False

    def stored_messages(
        self, tenant_id: str, device_id: uuid.UUID, messages: Sequence[tuple[datetime, str, str]]
    ) -> set[str]:
        self.asked.append([message_id for _, message_id, _ in messages])
        if self.down:
            raise ConnectionError("the read model's store is unreachable")
        return {m for _, m, _ in messages if m in self.held}


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def sent_past_the_window(fleet: Fleet, history: History) -> tuple[uuid.UUID, str]:
    fleet.handler = fleet.new_handler(history=history)
    device, token = fleet.device()
    for start in range(0, 1100, 100):
        fleet.ingest(
            *(Submission(message(device, f"m{i}", i - 2000), "http", token)
              for i in range(start, start + 100))
        )  # fmt: skip
    return device, token


def late_entries(fleet: Fleet, device: uuid.UUID) -> list[tuple[str, bool]]:
    *_, last = fleet.app.events.get(telemetry_id("acme", device))
    return [(e["message_id"], e.get("late", False)) for e in last.entries]  # type: ignore[attr-defined]


def test_a_late_redelivery_raw_history_holds_is_a_duplicate(fleet: Fleet) -> None:
    history = History(held={"m0"})
    device, token = sent_past_the_window(fleet, history)
    assert history.asked == []  # messages in time order: never asked
    version = fleet.app.load_telemetry(telemetry_id("acme", device)).version  # type: ignore[union-attr]
    results = fleet.ingest(
        Submission(message(device, "m0", -2000), "http", token),
        Submission(message(device, "m0", -2000), "http", token),
        Submission(message(device, "m1099", -901), "http", token),
    )
    assert [r.status for r in results] == ["duplicate"] * 3
    assert history.asked == [["m0", "m0"]]  # m1099 is in the window
    stream = fleet.app.load_telemetry(telemetry_id("acme", device))
    assert stream is not None
    assert stream.version == version  # nothing recorded
    assert fleet.handler.counters.snapshot()["messages"]["duplicate"] == 3


def test_a_late_message_raw_history_lacks_is_recorded_late(fleet: Fleet) -> None:
    history = History()
    device, token = sent_past_the_window(fleet, history)
    results = fleet.ingest(
        Submission(message(device, "m5", -1995), "http", token),
        Submission(message(device, "next", -1), "http", token),
    )
    assert [r.status for r in results] == ["accepted", "accepted"]
    assert history.asked == [["m5"]]
    assert late_entries(fleet, device) == [("m5", True), ("next", False)]


def test_an_unreachable_raw_history_accepts_the_message(fleet: Fleet) -> None:
    history = History(held={"m5"})
    device, token = sent_past_the_window(fleet, history)
    history.down = True
    results = fleet.ingest(Submission(message(device, "m5", -1995), "http", token))
    assert [r.status for r in results] == ["accepted"]  # the read model drops it later
    assert late_entries(fleet, device) == [("m5", True)]
