"""The Telemetry stream: many messages per event, redeliveries dropped, connectivity on it."""

from __future__ import annotations

import copy
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.domain import Snapshot

from event_store.envelope import EventMetadata, recording_as
from write_side.application import FleetApplication
from write_side.telemetry import BatchEntry, Reading, TelemetryBatch
from write_side.telemetry_log import MAX_ENTRIES_PER_EVENT, Telemetry, telemetry_id
from write_side.telemetry_window import DEDUP_WINDOW, DEDUP_WINDOW_SECONDS, seconds_of

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
    assert len(telemetry.window) == DEDUP_WINDOW
    assert not telemetry.has_seen("m0")  # the documented bound of idempotency
    assert telemetry.has_seen(f"m{DEDUP_WINDOW + 99}")


def test_the_window_is_bounded_by_device_time_for_a_device_that_sends_rarely() -> None:
    """One message every 10 s for two hours: the window keeps the last 300 s of device time
    (31 ids), not 720; what left is covered by the watermark, so a redelivery of it is marked
    late (checked against the read model), never recorded as new unchecked."""
    telemetry = stream()
    for k in range(720):
        telemetry.record([entry(f"m{k}", 10 * k)], T0, "mqtt")
    telemetry.collect_events()
    newest = 10 * 719
    assert len(telemetry.window) == DEDUP_WINDOW_SECONDS // 10 + 1
    assert len(telemetry.window.times) == len(telemetry.window)  # one message per batch
    assert telemetry.has_seen(f"m{719 - DEDUP_WINDOW_SECONDS // 10}")
    assert not telemetry.has_seen(f"m{718 - DEDUP_WINDOW_SECONDS // 10}")
    assert telemetry.late_after() == T0 + timedelta(seconds=newest - DEDUP_WINDOW_SECONDS - 10)
    assert telemetry.record([entry("m719", newest)], T0, "mqtt") == []  # in the window: dropped
    again = [entry("m3", 30), entry("m720", newest + 10)]
    telemetry.record(again, T0, "mqtt")
    assert late_flags(telemetry) == {"m3": True, "m720": False}


def test_a_batch_older_than_the_window_leaves_whole_and_the_count_bound_still_holds() -> None:
    telemetry = stream()
    telemetry.record([entry(f"a{i}", 0) for i in range(10)], T0, "mqtt")  # one batch at 0 s
    telemetry.record([entry(f"b{i}", 1) for i in range(DEDUP_WINDOW)], T0, "mqtt")  # count
    assert not any(telemetry.has_seen(f"a{i}") for i in range(10))
    telemetry.record([entry("c", DEDUP_WINDOW_SECONDS + 2)], T0, "mqtt")  # the b's are old now
    assert len(telemetry.window) == 1
    assert telemetry.has_seen("c")
    assert telemetry.late_after() == T0 + timedelta(seconds=1)


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


def past_the_window() -> Telemetry:
    """1,100 messages 0.1 s apart (within the window's time bound), in events of 100: m0..m75
    have left the window by count."""
    telemetry = stream()
    for start in range(0, 1100, 100):
        telemetry.record([entry(f"m{i}", i / 10) for i in range(start, start + 100)], T0, "mqtt")
    telemetry.collect_events()
    return telemetry


def late_flags(telemetry: Telemetry) -> dict[str, bool]:
    *_, event = telemetry.collect_events()
    assert isinstance(event, Telemetry.BatchRecorded)
    return {e["message_id"]: e.get("late", False) for e in event.entries}


def test_a_stream_that_forgot_nothing_marks_nothing_late() -> None:
    telemetry = stream()
    telemetry.record([entry(f"m{i}", i / 10) for i in range(DEDUP_WINDOW)], T0, "mqtt")
    assert telemetry.late_after() is None
    telemetry.record([entry("old", -3600)], T0, "mqtt")  # out of order, but not forgotten
    assert late_flags(telemetry) == {"old": False}


def test_unknown_ids_at_or_before_the_forgotten_times_are_recorded_late() -> None:
    telemetry = past_the_window()
    # The ids that left were in the first event (m0..m99): its newest time is the watermark.
    assert telemetry.late_after() == T0 + timedelta(seconds=9.9)
    again = [entry("m0", 0), entry("m5", 0.5), entry("m1099", 109.9), entry("next", 110)]
    assert [e.message_id for e in telemetry.unvouched(again)] == ["m0", "m5"]
    telemetry.record(again, T0, "mqtt")
    assert late_flags(telemetry) == {"m0": True, "m5": True, "next": False}


def test_the_watermark_moves_only_with_the_batches_that_leave() -> None:
    telemetry = past_the_window()
    telemetry.record([entry(f"x{i}", 200 + i / 10) for i in range(100)], T0, "mqtt")
    assert telemetry.late_after() == T0 + timedelta(seconds=19.9)  # m100..m199 left now
    assert len(telemetry.window.times) <= DEDUP_WINDOW // 100 + 1


def test_the_watermark_is_kept_by_snapshots() -> None:
    telemetry = past_the_window()
    restored = Snapshot.take(telemetry).mutate(None)
    assert isinstance(restored, Telemetry)
    assert restored.late_after() == telemetry.late_after()
    assert restored.window == telemetry.window
    restored.record([entry(f"y{i}", 300 + i / 10) for i in range(100)], T0, "mqtt")
    assert restored.late_after() == T0 + timedelta(seconds=19.9)


# `past_the_window()` as snapshots of class version 1 held it: the ids as strings, by batch.
PAST_RECENT = {f"m{i}": i // 100 + 1 for i in range(1100 - DEDUP_WINDOW, 1100)}
PAST_TIMES = [(T0 + timedelta(seconds=(100 * k + 99) / 10)).isoformat() for k in range(11)]


def version_1(telemetry: Telemetry, recent: dict[str, int], **times: Any) -> Snapshot:
    """A snapshot of `telemetry` in class version 1's form: `recent` and, as given, the
    batches' times (`batch_times` and `batch_times_from`, or `batch_latest`, or none)."""
    snapshot = Snapshot.take(copy.deepcopy(telemetry))  # shares no state with `telemetry`
    del snapshot.state["window"], snapshot.state["class_version"]
    if not times:  # from before the watermark
        for name in ("covered_after", "newest_at", "legacy_batches", "legacy_bound"):
            snapshot.state.pop(name, None)
    snapshot.state["recent"] = dict(recent)
    snapshot.state.update(times)
    return snapshot


def test_a_snapshot_from_before_the_watermark_still_loads_and_bounds_what_it_forgot() -> None:
    telemetry = past_the_window()
    old = version_1(telemetry, PAST_RECENT).mutate(None)
    assert isinstance(old, Telemetry)
    assert old.has_seen("m76")
    assert old.has_seen("m1099")
    assert not old.has_seen("m75")
    bound = T0 + timedelta(minutes=5)  # its last receipt, plus the skew validation allows
    assert (old.legacy_batches, old.legacy_bound) == (11, bound)
    assert old.late_after() == bound  # its window was full: it may have forgotten ids
    assert [e.message_id for e in old.unvouched([entry("m0"), entry("new", 301)])] == ["m0"]
    old.record([entry(f"z{i}", 120 + i / 10) for i in range(100)], T0, "mqtt")
    assert old.late_after() == bound  # a batch of unknown time left: bounded the same way
    assert old.window.first == 2  # m76..m175 left
    assert old.window.times[-1] == seconds_of((T0 + timedelta(seconds=129.9)).isoformat())
    assert all(math.isnan(t) for t in old.window.times[:-1])  # the batches of unknown time


def test_the_watermark_survives_a_stored_snapshot_and_its_encoding() -> None:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    telemetry = Telemetry(tenant_id="acme", device_id=DEVICE)
    for start in range(0, 1100, 10):
        batch = [entry(f"m{i}", i / 10) for i in range(start, start + 10)]
        telemetry.record(batch, T0, "mqtt")
        app.save_telemetry([telemetry], EventMetadata("acme", "system:ingestion"))
    snapshots = app.telemetry_repository.snapshot_store
    assert snapshots is not None
    assert [s.originator_version for s in snapshots.get(telemetry.id)] == [100]
    loaded = app.load_telemetry(telemetry.id)
    assert isinstance(loaded, Telemetry)
    assert loaded.late_after() == telemetry.late_after() == T0 + timedelta(seconds=7.9)
    assert loaded.window == telemetry.window
    assert [e.message_id for e in loaded.unvouched([entry("m0"), entry("m80", 8)])] == ["m0"]


def test_snapshots_of_class_version_1_load_and_go_on_alike() -> None:
    """Snapshots taken before `IdWindow` hold the ids as strings (`recent`) and the batches'
    times as a list (`batch_times`) or, older, as a dict keyed by the batch number as a string
    (`batch_latest`): upcast, the stream decides and forgets exactly as one that never changed."""
    telemetry = past_the_window()
    listed = version_1(telemetry, PAST_RECENT, batch_times=PAST_TIMES, batch_times_from=1)
    keyed = {str(b + 1): t for b, t in enumerate(PAST_TIMES)}
    for snapshot in (listed, version_1(telemetry, PAST_RECENT, batch_latest=keyed)):
        old = snapshot.mutate(None)
        assert isinstance(old, Telemetry)
        current = copy.deepcopy(telemetry)
        assert old.window == current.window
        assert old.late_after() == current.late_after()
        for k in range(3):  # the next batches: ids old and new, times moving past the window
            batch = [entry("m3", 0.3), entry(f"n{k}", 150 * (k + 1)), entry(f"o{k}", 100 * k)]
            assert old.unvouched(batch) == current.unvouched(batch)
            old.record(batch, T0, "mqtt")
            current.record(batch, T0, "mqtt")
            assert late_flags(old) == late_flags(current)
            assert old.late_after() == current.late_after()
            assert old.window == current.window


def test_a_stored_snapshot_of_class_version_1_is_upcast_when_loaded() -> None:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    telemetry = Telemetry(tenant_id="acme", device_id=DEVICE)
    for start in range(0, 1100, 100):  # `past_the_window()`'s batches, saved
        telemetry.record([entry(f"m{i}", i / 10) for i in range(start, start + 100)], T0, "mqtt")
    meta = EventMetadata("acme", "system:ingestion")
    app.save_telemetry([telemetry], meta)
    store = app.telemetry_repository.snapshot_store
    assert store is not None
    with recording_as(meta):
        store.put([version_1(telemetry, PAST_RECENT, batch_times=PAST_TIMES, batch_times_from=1)])
    loaded = app.load_telemetry(telemetry.id)
    assert isinstance(loaded, Telemetry)
    assert loaded.window == telemetry.window
    assert loaded.late_after() == telemetry.late_after() == T0 + timedelta(seconds=9.9)
