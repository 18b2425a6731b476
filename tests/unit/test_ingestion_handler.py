"""The telemetry command handler, on the library's in-memory store: what is kept, what is
refused and counted, what is stored once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from event_store.envelope import EventMetadata
from fleetwatch.settings import Settings
from fleetwatch.system_ingestion import build_ingestion
from ingestion.settings import IngestSettings
from write_side.application import FleetApplication
from write_side.commands import DecommissionDevice, RegisterDevice
from write_side.credentials import DeviceDirectory, IssueDeviceCredential
from write_side.device_service import DeviceService
from write_side.ingestion import MessageResult, Pending, Submission, TelemetryIngestion
from write_side.ingestion.connectivity import check_heartbeats
from write_side.telemetry_log import Telemetry, telemetry_id

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
META = EventMetadata("acme", "user:test")


class Fleet:
    def __init__(self) -> None:
        self.app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.devices = DeviceService(self.app)
        self.now = NOW
        self.handler = self.new_handler()

    def now_s(self) -> float:
        return self.now.timestamp()

    def new_handler(self, **kwargs: Any) -> TelemetryIngestion:
        directory = DeviceDirectory(self.devices.access, clock=self.now_s)
        return TelemetryIngestion(self.app, directory, clock=lambda: self.now, **kwargs)

    def device(self, tenant: str = "acme") -> tuple[uuid.UUID, str]:
        meta = EventMetadata(tenant, "user:test")
        device = self.devices.register(RegisterDevice(name="d", device_type="pump"), meta)
        issued = self.devices.issue_credential(
            IssueDeviceCredential(device_id=device.aggregate.id), meta
        )
        return device.aggregate.id, issued.token

    def ingest(
        self, *submissions: Submission, handler: TelemetryIngestion | None = None
    ) -> list[MessageResult]:
        handler = handler or self.handler
        outcomes = [handler.prepare(s) for s in submissions]
        pending = [o for o in outcomes if isinstance(o, Pending)]
        done = {
            id(p): r
            for g in handler.plan(pending)
            for p, r in zip(g, handler.commit(g), strict=True)
        }
        return [done[id(o)] if isinstance(o, Pending) else o for o in outcomes]

    def stored_entries(self, tenant: str, device_id: uuid.UUID) -> list[str]:
        events = self.app.events.get(telemetry_id(tenant, device_id))
        return [e["message_id"] for ev in events for e in getattr(ev, "entries", ())]


def message(
    device_id: uuid.UUID, message_id: str, seconds: float = -1, **extra: Any
) -> dict[str, Any]:
    return {
        "device_id": str(device_id),
        "message_id": message_id,
        "timestamp": (NOW + timedelta(seconds=seconds)).isoformat(),
        "metrics": {"temperature": 21.5, "humidity": 40, "battery": 90},
    } | extra


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def test_valid_messages_are_stored_once_per_device_in_one_event(fleet: Fleet) -> None:
    device, token = fleet.device()
    results = fleet.ingest(*(Submission(message(device, f"m{i}"), "http", token) for i in range(5)))
    assert [r.status for r in results] == ["accepted"] * 5
    assert len({r.position for r in results}) == 1
    assert results[0].position > 0
    events = list(fleet.app.events.get(telemetry_id("acme", device)))
    assert [type(e).__qualname__ for e in events] == [
        "Telemetry.Opened", "Telemetry.DeviceCameOnline", "Telemetry.BatchRecorded",
    ]  # fmt: skip
    assert fleet.handler.counters.snapshot()["readings_accepted"] == 15


def test_the_token_may_travel_in_the_payload(fleet: Fleet) -> None:
    device, token = fleet.device()
    [result] = fleet.ingest(Submission(json.dumps(message(device, "m", token=token)), "mqtt"))
    assert result.status == "accepted"
    assert "token" not in json.dumps(
        fleet.app.events.get(telemetry_id("acme", device)).__class__.__name__
    )


def test_redeliveries_are_stored_once_and_answered_duplicate(fleet: Fleet) -> None:
    device, token = fleet.device()
    first = fleet.ingest(
        Submission(message(device, "m1"), "mqtt", token),
        Submission(message(device, "m1"), "mqtt", token),
    )
    again = fleet.ingest(Submission(message(device, "m1"), "mqtt", token))
    assert [r.status for r in first + again] == ["accepted", "duplicate", "duplicate"]
    assert fleet.stored_entries("acme", device) == ["m1"]


def test_idempotency_survives_a_restart(fleet: Fleet) -> None:
    device, token = fleet.device()
    fleet.ingest(Submission(message(device, "m1"), "mqtt", token))
    restarted = fleet.new_handler()  # nothing in memory: the window is in the stream
    [result] = fleet.ingest(Submission(message(device, "m1"), "mqtt", token), handler=restarted)
    assert result.status == "duplicate"
    assert fleet.stored_entries("acme", device) == ["m1"]


def test_bad_readings_are_rejected_one_by_one_and_the_rest_kept(fleet: Fleet) -> None:
    device, token = fleet.device()
    bad = message(device, "m1", metrics={"temperature": "hot", "humidity": float("nan"), "ok": 1})
    [result] = fleet.ingest(Submission(bad, "http", token))
    assert result.status == "accepted"
    assert sorted(str(r.code) for r in result.rejections) == ["NOT_A_NUMBER", "NOT_FINITE"]
    counts = fleet.handler.counters.snapshot()
    assert counts["readings_rejected_by_code"] == {"NOT_A_NUMBER": 1, "NOT_FINITE": 1}
    assert counts["readings_accepted"] == 1


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"message_id": "x"}', "device_id"),
        (b"x" * 20_000, "over"),
    ],
)
def test_unusable_messages_are_rejected_and_counted(
    fleet: Fleet, payload: bytes, detail: str
) -> None:
    [result] = fleet.ingest(Submission(payload, "mqtt"))
    assert result.status == "rejected"
    assert result.code == "INVALID_TELEMETRY"
    assert detail in (result.detail or "")
    assert fleet.handler.counters.snapshot()["rejected_by_code"] == {"INVALID_TELEMETRY": 1}


def test_a_message_without_any_valid_reading_is_rejected(fleet: Fleet) -> None:
    device, token = fleet.device()
    [result] = fleet.ingest(Submission(message(device, "m", seconds=3600), "http", token))
    assert result.status == "rejected"
    assert result.code == "INVALID_TELEMETRY"
    assert {str(r.code) for r in result.rejections} == {"TIMESTAMP_IN_FUTURE"}
    assert fleet.stored_entries("acme", device) == []


def test_unauthenticated_unknown_and_decommissioned_devices_are_refused(fleet: Fleet) -> None:
    device, token = fleet.device()
    retired, retired_token = fleet.device()
    fleet.devices.decommission(DecommissionDevice(device_id=retired), META)
    fleet.handler.directory.forget(retired)
    unknown = uuid.uuid4()
    from write_side.credentials import new_credential

    results = fleet.ingest(
        Submission(message(device, "a"), "http"),  # no token
        Submission(message(device, "b"), "http", "fwd1.bogus"),
        Submission(message(device, "c"), "http", retired_token),  # another device's token
        Submission(message(unknown, "d"), "http", new_credential(unknown).token),
        Submission(message(retired, "e"), "http", retired_token),
        Submission(message(device, "f"), "mqtt", token, channel_device_id=str(unknown)),
    )
    assert [r.code for r in results] == [
        "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNKNOWN_DEVICE",
        "DEVICE_DECOMMISSIONED", "UNAUTHENTICATED",
    ]  # fmt: skip
    assert fleet.stored_entries("acme", device) == []
    assert fleet.stored_entries("acme", retired) == []
    assert fleet.handler.counters.snapshot()["messages"] == {"rejected": 6}


def test_a_rotated_credential_works_at_once_and_the_old_one_stops(fleet: Fleet) -> None:
    device, old = fleet.device()
    assert fleet.ingest(Submission(message(device, "a"), "http", old))[0].status == "accepted"
    new = fleet.devices.issue_credential(IssueDeviceCredential(device_id=device), META).token
    fleet.now += timedelta(seconds=2)  # the refused entry may be refreshed after 1 s
    assert fleet.ingest(Submission(message(device, "b"), "http", new))[0].status == "accepted"
    assert fleet.ingest(Submission(message(device, "c"), "http", old))[0].code == "UNAUTHENTICATED"


def test_trusted_transports_name_the_tenant(fleet: Fleet) -> None:
    device, _ = fleet.device()
    ok = Submission(
        message(device, "a"), "iot-core", channel_device_id=str(device), trusted_tenant="acme"
    )
    wrong = Submission(message(device, "b"), "iot-core", trusted_tenant="evil")
    assert [r.status for r in fleet.ingest(ok, wrong)] == ["accepted", "rejected"]


def test_a_proven_channel_needs_no_token_but_its_own_device(fleet: Fleet) -> None:
    """A broker that checked the device's certificate proves the topic's device: no token, the
    device's own tenant; the message must still be that device's, and the device registered."""
    (device, _), (other, _) = fleet.device("acme"), fleet.device("other")
    unknown = uuid.uuid4()

    def proven(device_id: uuid.UUID, message_id: str, topic: uuid.UUID | None = None) -> Submission:
        channel = str(topic or device_id)
        return Submission(
            message(device_id, message_id), "mqtt", channel_device_id=channel, channel_proven=True
        )

    results = fleet.ingest(
        proven(device, "a"),
        proven(other, "b"),
        proven(other, "c", topic=device),  # another device's message on this device's topic
        proven(unknown, "d"),
        Submission(message(device, "e"), "mqtt", channel_device_id=str(device)),  # not proven
        Submission(message(device, "f"), "mqtt", channel_proven=True),  # no channel: no proof
    )
    assert [(r.status, r.code) for r in results] == [
        ("accepted", None),
        ("accepted", None),
        ("rejected", "UNAUTHENTICATED"),
        ("rejected", "UNKNOWN_DEVICE"),
        ("rejected", "UNAUTHENTICATED"),
        ("rejected", "UNAUTHENTICATED"),
    ]
    assert fleet.stored_entries("acme", device) == ["a"]
    assert fleet.stored_entries("other", other) == ["b"]


def test_groups_hold_one_tenant_and_a_bounded_number_of_devices(fleet: Fleet) -> None:
    handler = fleet.new_handler(max_streams_per_call=2)
    devices = [fleet.device("acme") for _ in range(3)] + [fleet.device("other")]
    pending = [handler.prepare(Submission(message(d, "m"), "http", t)) for d, t in devices]
    groups = handler.plan(p for p in pending if isinstance(p, Pending))
    assert [len(g) for g in groups] == [2, 1, 1]
    assert all(len({p.tenant_id for p in g}) == 1 for g in groups)


def test_a_stream_written_by_another_process_is_reloaded_and_nothing_is_lost(fleet: Fleet) -> None:
    device, token = fleet.device()
    other = fleet.new_handler()  # another process on the same store
    fleet.ingest(Submission(message(device, "a"), "http", token))
    fleet.ingest(Submission(message(device, "b"), "http", token), handler=other)
    fleet.ingest(
        Submission(message(device, "b"), "http", token),
        Submission(message(device, "c"), "http", token),
    )
    assert fleet.stored_entries("acme", device) == ["a", "b", "c"]


def test_a_failed_save_leaves_nothing_half_done_and_a_retry_stores_once(fleet: Fleet) -> None:
    device, token = fleet.device()
    handler = fleet.handler
    pending = handler.prepare(Submission(message(device, "a"), "http", token))
    assert isinstance(pending, Pending)
    real = fleet.app.save_telemetry
    calls = []

    def flaky(streams: Any, meta: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("store down")
        return real(streams, meta)

    fleet.app.save_telemetry = flaky  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        handler.commit([pending])
    [result] = handler.commit([pending], retried=True)
    assert result.status == "accepted"
    assert fleet.stored_entries("acme", device) == ["a"]


def test_conflicts_retry_then_go_device_by_device(fleet: Fleet) -> None:
    device, token = fleet.device()
    pending = fleet.handler.prepare(Submission(message(device, "a"), "http", token))
    assert isinstance(pending, Pending)
    real = fleet.app.save_telemetry
    failures = [1, 1, 1]

    def racing(streams: Any, meta: Any) -> Any:
        if failures:
            failures.pop()
            raise IntegrityError("lost a race")
        return real(streams, meta)

    fleet.app.save_telemetry = racing  # type: ignore[method-assign]
    [result] = fleet.handler.commit([pending])
    assert result.status == "accepted"
    assert fleet.stored_entries("acme", device) == ["a"]


def test_silent_devices_go_offline_once_and_come_back(fleet: Fleet) -> None:
    device, token = fleet.device()
    fleet.ingest(Submission(message(device, "a"), "http", token))
    stream = telemetry_id("acme", device)
    fleet.now += timedelta(seconds=299)
    assert check_heartbeats(fleet.handler) == 0
    fleet.now += timedelta(seconds=2)
    assert check_heartbeats(fleet.handler) == 1
    assert check_heartbeats(fleet.handler) == 0
    loaded = fleet.app.load_telemetry(stream)
    assert loaded is not None
    assert loaded.online is False
    fleet.ingest(Submission(message(device, "b", seconds=301), "http", token))
    loaded = fleet.app.load_telemetry(stream)
    assert loaded is not None
    assert loaded.online is True
    kinds = [type(e).__qualname__ for e in fleet.app.events.get(stream)]
    assert kinds.count("Telemetry.DeviceWentOffline") == 1
    assert kinds.count("Telemetry.DeviceCameOnline") == 2


def test_streams_are_snapshotted_and_load_from_the_snapshot(fleet: Fleet) -> None:
    device, token = fleet.device()
    for i in range(120):
        fleet.ingest(Submission(message(device, f"m{i}"), "http", token))
    stream = telemetry_id("acme", device)
    store = fleet.app.telemetry_repository.snapshot_store
    assert store is not None
    assert [s.originator_version for s in store.get(stream)] == [100]
    loaded = fleet.app.load_telemetry(stream)
    assert isinstance(loaded, Telemetry)
    assert loaded.version == 122
    assert loaded.has_seen("m0")


@pytest.mark.parametrize(("cached", "loads"), [(2, 4), (3, 3)])
def test_the_stream_cache_is_bounded_and_a_stream_it_let_go_reloads_its_window(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, cached: int, loads: int
) -> None:
    """`max_cached_streams` (`FLEETWATCH_INGEST_CACHED_STREAMS`): past it the least recently
    used stream goes and is loaded again when its device sends, its window of ids with it."""
    handler = fleet.new_handler(max_cached_streams=cached)
    loaded: list[uuid.UUID] = []
    load = fleet.app.load_telemetry

    def counted(stream_id: uuid.UUID) -> Telemetry | None:
        loaded.append(stream_id)
        return load(stream_id)

    monkeypatch.setattr(fleet.app, "load_telemetry", counted)
    devices = [fleet.device() for _ in range(3)]
    for device, token in devices:
        fleet.ingest(Submission(message(device, "m1"), "http", token), handler=handler)
    first, token = devices[0]
    again = fleet.ingest(Submission(message(first, "m1"), "http", token), handler=handler)
    assert [r.status for r in again] == ["duplicate"]
    assert len(loaded) == loads  # the first device's stream twice when only 2 are kept
    assert fleet.stored_entries("acme", first) == ["m1"]


def test_the_setting_bounds_the_cache_of_the_handler_the_system_builds(fleet: Fleet) -> None:
    directory = DeviceDirectory(fleet.devices.access)
    ingest = IngestSettings(ingest_cached_streams=7)
    service, _ = build_ingestion(fleet.app, Settings(), ingest, directory)
    assert service is not None
    assert service.handler.max_cached_streams == 7


@pytest.mark.parametrize(
    ("value", "expected"),
    [("90", 90), ("\u00b2", None), ("0", None), ("-5", None), ("9" * 30, None)],
)
def test_a_devices_heartbeat_timeout_comes_from_plain_digits_only(
    fleet: Fleet, value: str, expected: int | None
) -> None:
    from write_side.commands import UpdateDevice
    from write_side.credentials import HEARTBEAT_METADATA_KEY

    device, _ = fleet.device()
    meta = EventMetadata("acme", "user:admin")
    fleet.devices.update(
        UpdateDevice(device_id=device, metadata={HEARTBEAT_METADATA_KEY: value}), meta
    )
    access = fleet.devices.access(device)
    assert access is not None
    assert access.heartbeat_timeout_s == expected
