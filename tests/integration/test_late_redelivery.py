"""A redelivery older than the stream's dedup window (1,024 ids) is counted once, on both stores
(issue 10, defect 6): one device sends 1,100 messages one second apart, then `m0` and `m5`
again. Through ingestion: the answer is `duplicate` and nothing is recorded. When the read model
lagged (the redelivery was recorded, marked late): the view drops it, in one call with the
original or in a later one, and a rebuild counts the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from projections.telemetry import TelemetryProjection
from read_side.telemetry import Bucket, HistoryQuery, Resolution, TelemetryReader
from tests.integration.test_ingestion_stores import device
from tests.integration.test_telemetry_projection import (
    T0,
    Message,
    Store,
    all_buckets,
    all_readings,
    open_store,
    record,
)
from write_side.ingestion import Submission
from write_side.telemetry_log import telemetry_id
from write_side.telemetry_window import DEDUP_WINDOW

COUNT = 1100
assert COUNT > DEDUP_WINDOW  # m0 and m5 have left the window


def messages(start: datetime, count: int = COUNT) -> list[Message]:
    return [(f"m{i}", start + timedelta(seconds=i), {"temp": float(i)}) for i in range(count)]


def counted(reader: TelemetryReader, device_id: uuid.UUID, start: datetime) -> dict[str, Any]:
    """What the read models say: raw rows, the first minute's count, the minutes' and the
    hours' totals."""
    span = {"start": start - timedelta(days=1), "end": start + timedelta(days=1)}
    raw = all_readings(reader, device_id, "temp", **span)
    minutes = {b.start: b.count for b in buckets(reader, device_id, Resolution.MINUTE, **span)}
    return {
        "raw": len(raw),
        "distinct": len({r.message_id for r in raw}),
        "first minute": minutes.get(start.replace(second=0, microsecond=0)),
        "minutes": sum(minutes.values()),
        "hours": sum(b.count for b in buckets(reader, device_id, Resolution.HOUR, **span)),
    }


def buckets(
    reader: TelemetryReader, device_id: uuid.UUID, resolution: Resolution, **span: datetime
) -> list[Bucket]:
    query = HistoryQuery(device_id, "temp", span["start"], span["end"], resolution, 5000)
    page = reader.buckets("acme", query)
    assert page.next_cursor is None
    return page.items


EXPECTED = {"raw": COUNT, "distinct": COUNT, "first minute": 60, "minutes": COUNT, "hours": COUNT}


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    opened = open_store(store_settings)
    yield opened
    opened.app.close()


# The view alone (events recorded through the aggregate, as a lagging read model meets them) --


@pytest.mark.parametrize("max_batch", [1, 1000], ids=["one-event-per-call", "one-call"])
def test_the_view_counts_a_late_redelivery_once(store: Store, max_batch: int) -> None:
    device_id = uuid.uuid4()
    sent = messages(T0)
    for start in range(0, COUNT, 100):
        record(store.app, device_id, sent[start : start + 100])
    record(store.app, device_id, [sent[0], sent[5]])  # recorded again: the window forgot them
    last = store.app.events.get(telemetry_id("acme", device_id))
    *_, redelivery = last
    assert [e.get("late") for e in redelivery.entries] == [True, True]  # type: ignore[attr-defined]

    worker = store.worker(max_batch=max_batch)
    worker.catch_up()
    assert counted(store.reader, device_id, T0) == EXPECTED
    readings = all_readings(store.reader, device_id, "temp")
    assert [r.value for r in readings] == [float(i) for i in range(COUNT)]

    store.view.reset(worker.tracking_name)  # a rebuild decides the same
    rebuilt = store.worker(max_batch=max_batch)
    rebuilt.catch_up()
    assert counted(store.reader, device_id, T0) == EXPECTED
    assert all_buckets(store.reader, device_id, "temp", Resolution.DAY)[0].count == COUNT


def test_no_change_notice_tells_of_a_dropped_repeat(store: Store) -> None:
    """Subscribers of `telemetry(deviceId)` hear what the read model holds: the late repeat the
    view dropped is in no notice; a late message that is new is."""
    device_id = uuid.uuid4()
    sent = messages(T0)
    for start in range(0, COUNT, 100):
        record(store.app, device_id, sent[start : start + 100])
    store.worker().catch_up()
    new = ("new", T0 + timedelta(seconds=7), {"temp": -1.0})
    record(store.app, device_id, [sent[0]])  # a repeat only
    record(store.app, device_id, [sent[5], new])  # a repeat and a new late message
    head = store.app.recorder.max_notification_id() or 0
    projection = TelemetryProjection(store.view)
    envelopes = [
        store.app.envelope_mapper.to_envelope(n)
        for n in store.app.recorder.select_notifications(head - 1, 2)
    ]
    notices = projection.process_batch(envelopes, Tracking("late-notices", head))
    assert [[m["message_id"] for m in n.data["messages"]] for n in notices] == [["new"]]
    got = counted(store.reader, device_id, T0)
    assert (got["raw"], got["first minute"]) == (COUNT + 1, 61)


def test_a_late_message_never_stored_is_kept(store: Store) -> None:
    """Late is "the window cannot vouch", not "a repeat": a new message with an old time counts."""
    device_id = uuid.uuid4()
    sent = messages(T0)
    for start in range(0, COUNT, 100):
        record(store.app, device_id, sent[start : start + 100])
    record(store.app, device_id, [("new", T0 + timedelta(seconds=5), {"temp": -1.0})])
    store.worker(max_batch=1).catch_up()
    got = counted(store.reader, device_id, T0)
    more = COUNT + 1
    assert got == {
        "raw": more, "distinct": more, "first minute": 61, "minutes": more, "hours": more
    }  # fmt: skip


# Through ingestion (the system on each store) ------------------------------------------------


@pytest.fixture
def start() -> datetime:
    """A whole minute, two hours ago: within the accepted age, the 1,100 s in one hour."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


@pytest.fixture
def built(store_settings: Settings) -> Iterator[list[System]]:
    systems: list[System] = []
    yield systems
    for system in systems:
        system.close()


def wire(device_id: uuid.UUID, message_id: str, at: datetime, value: float) -> dict[str, Any]:
    return {
        "device_id": str(device_id),
        "message_id": message_id,
        "timestamp": at.isoformat(),
        "metrics": {"temp": value},
    }


def send(system: System, token: str, device_id: uuid.UUID, start: datetime, ids: list[int]) -> Any:
    assert system.ingest is not None
    submissions = [
        Submission(wire(device_id, f"m{i}", start + timedelta(seconds=i), float(i)), "http", token)
        for i in ids
    ]
    return system.ingest.ingest(submissions)


def entries(system: System, device_id: uuid.UUID) -> list[str]:
    events = system.app.events.get(telemetry_id("acme", device_id))
    return [e["message_id"] for ev in events for e in getattr(ev, "entries", ())]


def test_a_known_late_redelivery_is_a_duplicate_and_recorded_nowhere(
    store_settings: Settings, built: list[System], start: datetime
) -> None:
    system = build_system(store_settings, IngestSettings(ingest_flush_ms=5))
    built.append(system)
    system.start()
    device_id, token = device(system)
    results = send(system, token, device_id, start, list(range(COUNT)))
    assert {r.status for r in results} == {"accepted"}
    assert system.wait_for(max(r.position for r in results), timeout=30)
    assert counted(system.telemetry, device_id, start) == EXPECTED

    again = send(system, token, device_id, start, [0, 5])
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert len(entries(system, device_id)) == COUNT  # no second event
    head = system.app.recorder.max_notification_id() or 0
    assert system.wait_for(head, timeout=30)
    assert counted(system.telemetry, device_id, start) == EXPECTED
    assert system.ingest is not None
    assert system.ingest.handler.counters.snapshot()["messages"]["duplicate"] == 2


def test_a_redelivery_before_the_read_model_has_the_original_is_still_counted_once(
    store_settings: Settings, built: list[System], start: datetime
) -> None:
    """The read model lags (its worker runs nowhere yet): the redelivery is accepted and
    recorded marked late, and the view drops it when it catches up."""
    settings = store_settings.model_copy(update={"projections": "device_status"})
    system = build_system(settings, IngestSettings(ingest_flush_ms=5, ingest_max_consumer_lag_ms=0))
    built.append(system)
    system.start()
    device_id, token = device(system)
    first = send(system, token, device_id, start, list(range(COUNT)))
    assert {r.status for r in first} == {"accepted"}
    again = send(system, token, device_id, start, [0, 5])
    assert [r.status for r in again] == ["accepted", "accepted"]
    assert entries(system, device_id).count("m0") == 2  # recorded again, marked late

    system.workers["telemetry"].catch_up()
    assert counted(system.telemetry, device_id, start) == EXPECTED


class ProcessDies(Exception):
    pass


def test_dynamodb_replay_after_a_partial_commit_drops_the_same_entries(
    request: pytest.FixtureRequest,
) -> None:
    """A late event needing two transactions; the process dies after the first (its raw item
    is stored, some rollups too). The replay must not take the event's own raw item for an
    earlier copy: its new late messages still count, its repeats still do not."""
    store = open_store(
        Settings(
            store="dynamodb",
            dynamodb_endpoint_url=request.getfixturevalue("dynamodb_endpoint"),
            dynamodb_table_prefix=request.getfixturevalue("table_prefix"),
        )
    )
    try:
        device_id = uuid.uuid4()
        sent = [(f"m{i}", T0 + timedelta(minutes=i), {"temp": 1.0}) for i in range(COUNT)]
        for start in range(0, COUNT, 100):
            record(store.app, device_id, sent[start : start + 100])
        store.worker().catch_up()
        new = [(f"n{i}", T0 + timedelta(minutes=i, seconds=30), {"temp": 2.0}) for i in range(99)]
        record(store.app, device_id, sent[:50] + new)  # 100 minutes: more than one transaction
        calls = {"n": 0}

        def dies_after_the_first(**kwargs: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise ProcessDies

        events = store.view.client.meta.events
        events.register("before-call.dynamodb.TransactWriteItems", dies_after_the_first)
        try:
            with pytest.raises(ProcessDies):
                store.worker().catch_up()
        finally:
            events.unregister("before-call.dynamodb.TransactWriteItems", dies_after_the_first)
        store.worker().catch_up()
        assert calls["n"] == 2
        got = counted(store.reader, device_id, T0)
        total = COUNT + len(new)
        assert got == {
            "raw": total, "distinct": total, "first minute": 2, "minutes": total, "hours": total
        }  # fmt: skip
    finally:
        store.app.close()
