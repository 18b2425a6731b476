"""The SQLite telemetry view stores the same rollup rows bit for bit however the events are
grouped into batches: a rebuild (pages of thousands of events) and the live worker (small
batches) must agree, and `fleetwatch replay` compares them by checksum. Floating-point sums
are order-sensitive, so each event's contribution must be added to the row in feed order
(row + c1 + c2, never row + (c1 + c2)); the values here make any other order show. Events
of one message (whose value is its own contribution) and of several (whose summary is) are
mixed, and signed zeros make any other tie-breaking of min and max show."""

from __future__ import annotations

import itertools
import sqlite3
import struct
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore
from hypothesis import example, given, settings
from hypothesis import strategies as st

from read_side.telemetry.batch import DeviceBatch, RawEntry
from read_side.telemetry.sqlite import SQLiteTelemetryView
from tests.hypothesis_profiles import examples

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEVICES = (uuid.UUID(int=1), uuid.UUID(int=2))
# Sums of these depend on the order they are added in: 1e16 + 1.0 - 1e16 is 0.0, 1.0 + 0.0.
ORDER_SENSITIVE = (1e16, -1e16, 1.0, 0.1, 0.7, -3.3e-5, 2.5e15)
VALUES = (*ORDER_SENSITIVE, 0.0, -0.0)

Event = tuple[int, int, float]  # device index, second after T0, value
# A device's event of several messages: device index, (second after T0, value) per message.
Multi = tuple[int, tuple[tuple[int, float], ...]]


def batches_of(events: Sequence[Event | Multi]) -> list[DeviceBatch]:
    """One `DeviceBatch` per event (messages with one metric each), versions per device."""
    versions = [0, 0]
    made = []
    for position, event in enumerate(events, start=1):
        device = event[0]
        messages = event[1] if len(event) == 2 else ((event[1], event[2]),)
        versions[device] += 1
        entries = tuple(
            RawEntry(1_772_366_400_000 + second * 1000, f"m{position}-{i}", {"temp": value})
            for i, (second, value) in enumerate(messages)
        )
        batch = DeviceBatch(
            tenant_id="acme", device_id=DEVICES[device], version=versions[device],
            position=position, received_at=T0, transport="http", entries=entries,
            status=tuple({} for _ in entries),
        )  # fmt: skip
        made.append(batch)
    return made


def rollup_rows(
    path: Path, events: Sequence[Event | Multi], cuts: Sequence[int]
) -> list[tuple[Any, ...]]:
    """The rollup table after applying `events` in batches cut at `cuts`, floats as bits."""
    datastore = SQLiteDatastore(str(path))
    try:
        view = SQLiteTelemetryView(datastore=datastore)
        view.create_table()
        made = batches_of(events)
        edges = [0, *sorted({c for c in cuts if 0 < c < len(made)}), len(made)]
        for start, end in itertools.pairwise(edges):
            view.apply(made[start:end], Tracking("Fleetwatch", end))
    finally:
        datastore.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM telemetry_rollups ORDER BY 1, 2, 3, 4, 5").fetchall()
    db.close()
    return [(*row[:5], *(_bits(v) for v in row[5:8]), row[8]) for row in rows]


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


_message = st.tuples(st.integers(0, 150), st.sampled_from(VALUES))


@settings(max_examples=examples(60), deadline=None)
@example([(0, 0, 1e16), (0, 1, 1.0), (0, 2, 1.0), (0, 3, -1e16), (1, 5, -0.0), (1, 6, 0.0)], [])
@example([(0, ((0, -0.0), (1, 0.0))), (0, 2, 0.0), (0, ((3, 1e16), (4, 1.0))), (0, 5, -1e16)], [2])
@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(0, 1), st.integers(0, 150), st.sampled_from(VALUES)),
            st.tuples(st.integers(0, 1), st.lists(_message, min_size=2, max_size=4).map(tuple)),
        ),
        min_size=2,
        max_size=40,
    ),
    st.lists(st.integers(1, 39), max_size=6),
)
def test_rollups_are_identical_bit_for_bit_however_events_are_batched(
    tmp_path_factory: Any, events: list[Event | Multi], cuts: list[int]
) -> None:
    directory = tmp_path_factory.mktemp("grouping")
    one_by_one = rollup_rows(directory / "one.sqlite3", events, range(1, len(events)))
    assert rollup_rows(directory / "all.sqlite3", events, []) == one_by_one
    assert rollup_rows(directory / "cut.sqlite3", events, cuts) == one_by_one


def test_a_row_several_events_touch_adds_them_to_what_is_stored_in_feed_order(
    tmp_path: Path,
) -> None:
    events: list[Event | Multi] = [(0, 0, 1e16), (0, 1, 1.0), (0, 2, 1.0), (0, 3, -1e16)]
    events.append((0, 4, 1.0))
    one_by_one = rollup_rows(tmp_path / "one.sqlite3", events, [1, 2, 3, 4])
    together = rollup_rows(tmp_path / "two.sqlite3", events, [1])  # 1e16, then four more
    assert together == one_by_one
    assert rollup_rows(tmp_path / "all.sqlite3", events, []) == one_by_one
    minute = next(row for row in one_by_one if row[3] == "1m")
    # (((1e16 + 1.0) + 1.0) - 1e16) + 1.0, in order; any other order of the last four gives 2.0
    assert struct.unpack("<d", minute[7])[0] == 1.0
    # The same with events of two messages, whose summaries are the contributions.
    multi: list[Event | Multi] = [(0, ((0, 1e16), (1, 1.0))), (0, 2, 1.0), (0, ((3, -1e16),))]
    multi += [(0, ((4, 1.0), (5, -0.0))), (0, 6, 0.0)]
    one_by_one = rollup_rows(tmp_path / "m1.sqlite3", multi, [1, 2, 3, 4])
    assert rollup_rows(tmp_path / "m2.sqlite3", multi, []) == one_by_one
    assert rollup_rows(tmp_path / "m3.sqlite3", multi, [2]) == one_by_one
