"""A Telemetry stream's window of message ids (`IdWindow`) decides as its rules state them.

`Reference` states the window's rules plainly (the ids as strings in a dict, as the stream held
them before `IdWindow`); hypothesis drives a stream and the reference with the same batches,
redeliveries and out-of-order device times, with a window of 8 ids so both bounds are reached
(and the Bloom filter that spares most lookups a scan built from 4 ids on).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from write_side import telemetry_window
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry
from write_side.telemetry_window import SIZE, IdWindow, IdWindowAsDict, digest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW, SECONDS = 8, 30  # the bounds the property runs with


class Reference:
    """The window's rules, plainly: ids by batch; past `WINDOW` ids the oldest go, and a batch
    whose newest device time is `SECONDS` before the newest recorded leaves whole; the
    watermark is the newest time of a batch that lost ids."""

    def __init__(self) -> None:
        self.recent: dict[str, int] = {}
        self.times: dict[int, datetime] = {}
        self.batches = 0
        self.newest: datetime | None = None
        self.watermark: datetime | None = None

    def record(self, entries: list[BatchEntry]) -> tuple[list[str], dict[str, bool]]:
        ids = (e.message_id for e in entries if e.message_id not in self.recent)
        fresh = list(dict.fromkeys(ids))
        if not fresh:
            return [], {}
        at = {e.message_id: e.at for e in reversed(entries)}  # the first of an id counts
        late = {m: self.watermark is not None and at[m] <= self.watermark for m in fresh}
        self.batches += 1
        for message_id in fresh:
            self.recent[message_id] = self.batches
        self.times[self.batches] = max(at[m] for m in fresh)
        self.newest = max(self.newest or self.times[self.batches], self.times[self.batches])
        cutoff = self.newest - timedelta(seconds=SECONDS)
        leaving = None  # a batch older than the window: all of its ids go
        while self.recent:
            message_id, batch = next(iter(self.recent.items()))
            if len(self.recent) <= WINDOW and batch != leaving:
                if self.times[batch] >= cutoff:
                    break
                leaving = batch
            del self.recent[message_id]
            self.watermark = max(self.watermark or self.times[batch], self.times[batch])
        return fresh, late


def entries_strategy() -> st.SearchStrategy[list[tuple[int, int]]]:
    # (message number, seconds): few numbers, so redeliveries within and past the window
    return st.lists(st.tuples(st.integers(0, 40), st.integers(-10, 90)), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(entries_strategy(), min_size=1, max_size=40), st.integers(0, 40))
def test_the_stream_decides_as_the_window_s_rules_say(
    batches: list[list[tuple[int, int]]], snapshot_at: int
) -> None:
    with (
        mock.patch.object(telemetry_window, "DEDUP_WINDOW", WINDOW),
        mock.patch.object(telemetry_window, "DEDUP_WINDOW_SECONDS", SECONDS),
        mock.patch("write_side.telemetry_log.DEDUP_WINDOW", WINDOW),
        mock.patch.object(telemetry_window, "BLOOM_FROM", 4),  # the filter in play too
    ):
        telemetry = Telemetry(tenant_id="acme", device_id=uuid.uuid4())
        reference = Reference()
        for step, batch in enumerate(batches):
            if step == snapshot_at:  # and on from a snapshot, through its encoding
                restored = Snapshot.take(copy.deepcopy(telemetry)).mutate(None)
                assert isinstance(restored, Telemetry)
                encoding = IdWindowAsDict()
                restored.window = encoding.decode(encoding.encode(restored.window))
                telemetry = restored
            entries = [
                BatchEntry(f"m{n}", T0 + timedelta(seconds=s), (Reading("t", 1.0, T0),))
                for n, s in batch
            ]
            telemetry.collect_events()
            recorded = telemetry.record(entries, T0, "mqtt")
            fresh, late = reference.record(entries)
            assert [e.message_id for e in recorded] == fresh
            flags = {
                e["message_id"]: e.get("late", False)
                for event in telemetry.collect_events()
                if isinstance(event, Telemetry.BatchRecorded)
                for e in event.entries
            }
            assert flags == late
            assert telemetry.late_after() == reference.watermark
            assert len(telemetry.window) == len(reference.recent)
            assert all(telemetry.has_seen(f"m{n}") == (f"m{n}" in reference.recent)
                       for n in range(41))  # fmt: skip


def test_a_digest_across_two_remembered_ones_is_not_remembered() -> None:
    window = IdWindow()
    a, b = digest("a"), digest("b")
    window.add(1, [a, b], 0.0)
    straddling = a[SIZE // 2 :] + b[: SIZE // 2]
    assert a in window
    assert b in window
    assert straddling not in window
    window.add(2, [straddling], 0.0)  # found at its own place, past the one across
    assert straddling in window


def test_only_the_next_batch_is_added_and_an_inconsistent_state_is_refused() -> None:
    window = IdWindow(first=5)
    with pytest.raises(ValueError, match="not the next one"):
        window.add(6, [digest("a")], 0.0)
    window.add(5, [digest("a")], 0.0)
    state = window.state()
    assert IdWindow.of_state(state) == window
    with pytest.raises(ValueError, match="inconsistent"):
        IdWindow.of_state({**state, "counts": [2]})
