"""The Telemetry stream: many messages per event, redeliveries dropped, connectivity on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from write_side.telemetry import BatchEntry, Reading, TelemetryBatch
from write_side.telemetry_log import (
    DEDUP_WINDOW,
    MAX_ENTRIES_PER_EVENT,
    Telemetry,
    telemetry_id,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEVICE = uuid.uuid4()


def entry(message_id: str, seconds: float = 0, **metrics: float) -> BatchEntry:
    at = T0 + timedelta(seconds=seconds)
    values = metrics or {"temperature": 20.0}
    return BatchEntry(message_id, at, tuple(Reading(m, v, at) for m, v in values.items()))


def stream() -> Telemetry:
    telemetry = Telemetry(tenant_id="acme", device_id=DEVICE)
    telemetry.collect_events()
    return telemetry


def kinds(telemetry: Telemetry) -> list[str]:
    return [type(e).__qualname__ for e in telemetry.collect_events()]


def test_the_id_is_deterministic_per_tenant_and_device() -> None:
    assert Telemetry(tenant_id="acme", device_id=DEVICE).id == telemetry_id("acme", DEVICE)
    assert telemetry_id("acme", DEVICE) != telemetry_id("other", DEVICE)


def test_first_batch_brings_the_device_online_then_batches_only() -> None:
    telemetry = stream()
    telemetry.record([entry("a"), entry("b")], T0, "mqtt")
    assert kinds(telemetry) == ["Telemetry.DeviceCameOnline", "Telemetry.BatchRecorded"]
    telemetry.record([entry("c")], T0, "http")
    assert kinds(telemetry) == ["Telemetry.BatchRecorded"]
    assert telemetry.online is True
    assert telemetry.last_received_at == T0


def test_many_messages_make_one_event_whose_payload_is_the_batch_format() -> None:
    telemetry = stream()
    telemetry.record([entry(f"m{i}", i, temperature=i) for i in range(5)], T0, "mqtt")
    *_, event = telemetry.collect_events()
    assert isinstance(event, Telemetry.BatchRecorded)
    batch = TelemetryBatch.from_payload({"device_id": event.device_id, "entries": event.entries})
    assert [e.message_id for e in batch.entries] == [f"m{i}" for i in range(5)]
    assert event.transport == "mqtt"
    assert event.received_at == T0


def test_redelivered_and_repeated_messages_are_recorded_once() -> None:
    telemetry = stream()
    recorded = telemetry.record([entry("a"), entry("a"), entry("b")], T0, "mqtt")
    assert [e.message_id for e in recorded] == ["a", "b"]
    telemetry.collect_events()
    assert telemetry.record([entry("a"), entry("b")], T0, "mqtt") == []
    assert kinds(telemetry) == []  # nothing new: nothing recorded


def test_out_of_order_device_times_are_accepted() -> None:
    telemetry = stream()
    telemetry.record([entry("late", -3600)], T0, "mqtt")
    assert telemetry.record([entry("early", -7200)], T0, "mqtt") != []


def test_the_window_of_message_ids_is_bounded() -> None:
    telemetry = stream()
    for start in range(0, DEDUP_WINDOW + 100, 100):
        telemetry.record([entry(f"m{i}") for i in range(start, start + 100)], T0, "mqtt")
    assert len(telemetry.recent) == DEDUP_WINDOW
    assert not telemetry.has_seen("m0")  # the documented bound of idempotency
    assert telemetry.has_seen(f"m{DEDUP_WINDOW + 99}")


def test_big_batches_are_split_into_bounded_events() -> None:
    telemetry = stream()
    telemetry.record([entry(f"m{i}") for i in range(MAX_ENTRIES_PER_EVENT * 2 + 1)], T0, "http")
    events = telemetry.collect_events()[1:]
    assert [len(e.entries) for e in events] == [MAX_ENTRIES_PER_EVENT, MAX_ENTRIES_PER_EVENT, 1]  # type: ignore[attr-defined]


def test_silence_past_the_timeout_goes_offline_and_the_next_batch_comes_back() -> None:
    telemetry = stream()
    telemetry.record([entry("a")], T0, "mqtt")
    telemetry.collect_events()
    assert not telemetry.check_heartbeat(T0 + timedelta(seconds=300), timeout_s=300)
    assert telemetry.check_heartbeat(T0 + timedelta(seconds=301), timeout_s=300)
    went = telemetry.collect_events()
    assert [type(e).__qualname__ for e in went] == ["Telemetry.DeviceWentOffline"]
    assert not telemetry.check_heartbeat(T0 + timedelta(hours=1), timeout_s=300)  # once
    telemetry.record([entry("b")], T0 + timedelta(hours=1), "mqtt")
    came, _ = telemetry.collect_events()
    assert isinstance(came, Telemetry.DeviceCameOnline)
    assert came.offline_since == T0 + timedelta(seconds=301)


def test_a_device_that_never_reported_is_never_marked_offline() -> None:
    assert not stream().check_heartbeat(T0 + timedelta(days=1), timeout_s=1)
