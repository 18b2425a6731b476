"""The backfill of a resumed `telemetry` subscription (docs/api.md 13.6) on both stores: every
batch stored since the cursor, in order, as the telemetry model applied it. A late entry that
repeats a message an earlier event stored is left out (the view dropped it); a late entry
never stored before is shown (the view stored it), though raw history now holds both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from api.graphql.telemetry import stored_batches
from event_store.envelope import EventMetadata
from fleetwatch.settings import Settings
from fleetwatch.system import System, build_system
from ingestion.settings import IngestSettings
from write_side.commands import RegisterDevice
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id
from write_side.telemetry_window import DEDUP_WINDOW_SECONDS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def system(store_settings: Settings) -> Iterator[System]:
    built = build_system(store_settings, IngestSettings())
    built.start()
    yield built
    built.close()


def record(system: System, tenant: str, device: UUID, *messages: tuple[str, float]) -> None:
    """One batch event of the device's stream: (message id, seconds after T0) each."""
    stream = system.app.load_telemetry(telemetry_id(tenant, device))
    stream = stream or Telemetry(tenant_id=tenant, device_id=device)
    entries = [
        BatchEntry(m, T0 + timedelta(seconds=s), (Reading("temp", s, T0 + timedelta(seconds=s)),))
        for m, s in messages
    ]
    stream.record(entries, T0, "http")
    system.app.save_telemetry([stream], EventMetadata(tenant, f"device:{device}"))


def test_the_backfill_shows_each_batch_as_the_model_applied_it(system: System) -> None:
    tenant = "acme"
    meta = EventMetadata(tenant, "user:alice")
    device = system.device_service.register(RegisterDevice(name="p", device_type="t"), meta)
    device_id = device.aggregate.id
    record(system, tenant, device_id, ("m0", 0))
    record(system, tenant, device_id, ("m1", DEDUP_WINDOW_SECONDS + 100))  # m0 leaves the window
    # m0 again (a redelivery the stream no longer knows) and m5 (new, as old): both late
    record(system, tenant, device_id, ("m0", 0), ("m5", -10))
    head = system.event_log.head()
    deadline = time.monotonic() + 20
    while system.position("telemetry") < head:
        assert time.monotonic() < deadline, "the telemetry model did not catch up"
        time.sleep(0.05)
    notices = stored_batches(system, device_id, tenant, 0, head)
    shown = [[m["message_id"] for m in n.data["messages"]] for n in notices]
    assert shown == [["m0"], ["m1"], ["m5"]]  # the repeat of m0 left out, as the view did
    positions = [n.position for n in notices]
    assert positions == sorted(set(positions))
    assert {n.key for n in notices} == {str(device_id)}
    # from the middle: only what came after
    later = stored_batches(system, device_id, tenant, positions[0], head)
    assert [n.position for n in later] == positions[1:]
