"""The projectors as a Lambda function (`fleetwatch.lambdas.projector_handler`, issue 15 item
3), on each store: woken by DynamoDB Streams records that it never reads, duplicated, out of
order or missing, each projector still applies every event once, from its own checkpoint to
the head; a scheduled sweep catches up what no wake-up announced; two invocations at once
count nothing twice (the conditional checkpoint write); and a projector that fails on an event
stops before it, every time, while the others catch up."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from event_store.envelope import EventMetadata
from fleetwatch import lambdas
from fleetwatch.bootstrap import System, build_system
from fleetwatch.lambdas import ProjectorsFailed, project, projector_handler
from fleetwatch.settings import Settings
from fleetwatch.wiring import LAMBDA_PROJECTOR
from read_side.device_status.port import DeviceStatusReader
from read_side.telemetry.port import HistoryQuery
from read_side.telemetry.row import Resolution
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED, Telemetry

META = EventMetadata("acme", "user:alice")
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
NAMES = list(LAMBDA_PROJECTOR)  # the read models, then the notifier
RAW, DAY = Resolution.RAW, Resolution.DAY


def stream_event(*keys: str) -> dict[str, Any]:
    """A DynamoDB Streams batch whose records name items (the handler reads none of them)."""
    return {
        "Records": [
            {
                "eventID": f"{i}",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": {"pk": {"S": key}}, "SequenceNumber": f"{i}"},
            }
            for i, key in enumerate(keys)
        ]
    }


SCHEDULED = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def environment(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The store's settings as the function's environment, and a cold function."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    for name, value in store_settings.model_dump(exclude_none=True).items():
        if name in {"store", "sqlite_path", "dynamodb_endpoint_url", "dynamodb_table_prefix"}:
            monkeypatch.setenv(f"FLEETWATCH_{name.upper()}", str(value))
    monkeypatch.setenv("FLEETWATCH_RUN_PROJECTIONS", "false")
    monkeypatch.setattr(lambdas, "_warm", {})
    yield store_settings
    for system in lambdas._warm.values():
        system.close()


def writes(system: System, devices: list[UUID], minute: int) -> None:
    """A reading of each device (one message each), at `minute` past T0."""
    at = T0 + timedelta(minutes=minute)
    streams = []
    for i, device in enumerate(devices):
        stream_id = Telemetry.create_id("acme", device)
        if minute == 1:
            stream = Telemetry(tenant_id="acme", device_id=device)
        else:
            stream = system.app.repository.get(stream_id)
        reading = Reading("temperature", 20.0 + i + minute, at)
        stream.record([BatchEntry(f"{device.hex}-{minute}", at, (reading,))], at, "http")
        streams.append(stream)
    system.app.save_telemetry(streams, META)


def counts(system: System, devices: list[UUID]) -> list[int]:
    """Each device's readings, and the count of its day rollup (every reading counted once)."""
    found = []
    span = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    for device in devices:
        raw = system.telemetry.readings("acme", HistoryQuery(device, "temperature", *span, RAW))
        day = system.telemetry.buckets("acme", HistoryQuery(device, "temperature", *span, DAY))
        found += [len(raw.items), sum(b.count for b in day.items)]
    return found


def test_wake_ups_in_any_order_or_none_apply_every_event_once(environment: Settings) -> None:
    writer = build_system(environment)
    try:
        devices = [
            writer.device_service.register(
                RegisterDevice(name=f"d{i}", device_type="p"), META
            ).aggregate.id
            for i in range(3)
        ]
        writer.device_service.update(UpdateDevice(device_id=devices[0], name="renamed"), META)
        writes(writer, devices, 1)
        writes(writer, devices, 2)
        head = writer.event_log.head()

        # Out of order and duplicated records: every projector at the head all the same.
        answer = projector_handler(stream_event("b", "a", "a", "c"))
        assert answer["positions"] == dict.fromkeys(NAMES, head)
        reader: DeviceStatusReader = writer.devices
        assert reader.get("acme", devices[0]).name == "renamed"  # type: ignore[union-attr]
        assert counts(writer, devices) == [2, 2] * 3

        # The same wake-up again (a retry): nothing counted twice.
        projector_handler(stream_event("b", "a", "a", "c"))
        assert counts(writer, devices) == [2, 2] * 3

        # Events no record announced (lost past the stream's retention): the sweep applies them.
        writes(writer, devices, 3)
        assert counts(writer, devices) == [2, 2] * 3
        projector_handler(SCHEDULED)
        assert counts(writer, devices) == [3, 3] * 3

        # Two invocations at once (a wake-up and the sweep, two warm containers).
        writes(writer, devices, 4)
        other = build_system(environment)
        try:
            results: list[BaseException | None] = []

            def invoke(system: System) -> None:
                try:
                    project(system, NAMES)
                    results.append(None)
                except BaseException as e:  # reported by the assertion below
                    results.append(e)

            warm = lambdas._warm["projector"]
            threads = [threading.Thread(target=invoke, args=(s,)) for s in (warm, other)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert results == [None, None]
        finally:
            other.close()
        assert counts(writer, devices) == [4, 4] * 3
    finally:
        writer.close()


def test_a_projector_stops_on_a_bad_event_and_the_others_go_on(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(settings.sqlite_path))
    monkeypatch.setenv("FLEETWATCH_RUN_PROJECTIONS", "false")
    monkeypatch.setattr(lambdas, "_warm", {})
    writer = build_system(settings)
    try:
        device = writer.device_service.register(RegisterDevice(name="d", device_type="p"), META)
        writes(writer, [device.aggregate.id], 1)
        with sqlite3.connect(settings.sqlite_path) as db:  # an event no decoder can read
            db.execute(
                "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
                (UUID(int=7).hex, 1, TELEMETRY_BATCH_RECORDED.topic, b"not json"),
            )
        bad = writer.event_log.head()
        writer.device_service.update(UpdateDevice(device_id=device.aggregate.id, name="x"), META)
        readers = {"device_status", "telemetry", "deployments", "dashboard"}  # of the batches
        for _ in range(2):  # the retry stops at the same place
            with pytest.raises(ProjectorsFailed) as failed:
                projector_handler(SCHEDULED)
            named = {n for n in NAMES if f"{n} (MapperDeserialisationError" in str(failed.value)}
            assert named == readers
            positions = {n: lambdas._warm["projector"].workers[n].position for n in NAMES}
            assert all(positions[n] < bad for n in readers)  # before it, never past it
            assert all(positions[n] == writer.event_log.head() for n in set(NAMES) - readers)
    finally:
        writer.close()
        for system in lambdas._warm.values():
            system.close()


def test_a_name_that_is_not_a_projector_is_refused(environment: Settings) -> None:
    system = build_system(environment)
    try:
        with pytest.raises(ValueError, match=r"not projectors \['nope'\]"):
            project(system, ["device_status", "nope"])
    finally:
        system.close()
