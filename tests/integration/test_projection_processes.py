"""Projections spread over processes (`FLEETWATCH_PROJECTIONS`): each System runs only the
workers named in its settings; `wait_for` waits on the others through their checkpoints; an
unknown name is refused before anything starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from fleetwatch.wiring import WORKERS
from ingestion import pacing
from ingestion.settings import IngestSettings
from read_side.telemetry import HistoryQuery, Resolution
from read_side.telemetry.sqlite import SQLiteTelemetryView
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.ingestion import Submission

META = EventMetadata("acme", "user:alice")
# Every worker but telemetry, from the wiring: a worker added later runs in the "others" process.
OTHERS = ",".join(name for name in WORKERS if name != "telemetry")


@pytest.fixture
def pair(store_settings: Settings) -> Iterator[tuple[System, System]]:
    """Two "processes" on one store: telemetry in one, every other worker in the other."""
    built = []
    for projections in ("telemetry", OTHERS):
        settings = store_settings.model_copy(update={"projections": projections})
        system = build_system(settings, IngestSettings(ingest_flush_ms=5))
        system.start()
        built.append(system)
    yield built[0], built[1]
    for system in built:
        system.close()


def running_threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_each_runs_its_workers_and_waits_for_the_others_through_their_checkpoints(
    pair: tuple[System, System],
) -> None:
    telemetry, others = pair
    assert [w.projection.name for g in telemetry.groups for w in g.workers] == ["telemetry"]
    assert [w.projection.name for g in others.groups for w in g.workers] == [
        "device_status", "alerting", "dashboard", "deployments", "ota",
    ]  # fmt: skip
    saved = telemetry.device_service.register(RegisterDevice(name="p", device_type="pump"), META)
    device = saved.aggregate.id
    token = telemetry.device_service.issue_credential(
        IssueDeviceCredential(device_id=device), META
    ).token
    at = datetime.now(UTC).replace(microsecond=0)
    message = {
        "device_id": str(device), "message_id": "m1", "timestamp": at.isoformat(),
        "metrics": {"temperature": 21.5},
    }  # fmt: skip
    assert telemetry.ingest is not None
    [result] = telemetry.ingest.ingest([Submission(message, "http", token)])
    assert result.status == "accepted"
    # From the telemetry process: its own worker by position, the others' by checkpoint.
    assert telemetry.wait_for(result.position, timeout=20)
    row = telemetry.devices.get("acme", device)  # written by the other process's worker
    assert row is not None
    assert row.last_values == {"temperature": 21.5}
    query = HistoryQuery(device, "temperature", at, at + timedelta(hours=1), Resolution.MINUTE)
    assert [r.value for r in others.telemetry.readings("acme", query).items] == [21.5]


def test_an_unknown_projection_is_refused_before_anything_starts(
    store_settings: Settings,
) -> None:
    settings = store_settings.model_copy(update={"projections": "telemetry,telemetery"})
    system = build_system(settings, IngestSettings())
    before = running_threads()
    try:
        with pytest.raises(ValueError, match="telemetery"):
            system.start()
        assert running_threads() == before
    finally:
        system.close()


def test_the_dispatcher_runs_where_the_notifier_does(pair: tuple[System, System]) -> None:
    telemetry, others = pair
    assert telemetry.dispatcher is not None
    assert others.dispatcher is not None
    assert telemetry.dispatcher._thread is None
    assert others.dispatcher._thread is not None


def ingest_five_slowly(system: System) -> float:
    """Five messages of one device, one at a time, 0.1 s apart; the time ingestion waited."""
    saved = system.device_service.register(RegisterDevice(name="p", device_type="pump"), META)
    device = saved.aggregate.id
    credential = IssueDeviceCredential(device_id=device)
    token = system.device_service.issue_credential(credential, META).token
    assert system.ingest is not None
    for k in range(5):
        message = {
            "device_id": str(device), "message_id": f"m{k}",
            "timestamp": datetime.now(UTC).isoformat(), "metrics": {"temperature": 20.0 + k},
        }  # fmt: skip
        [result] = system.ingest.ingest([Submission(message, "http", token)])
        assert result.status == "accepted"
        time.sleep(0.1)  # the commit is now older than the 50 ms bound
    return system.ingest.paced_s


@pytest.fixture
def slow_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLite telemetry view takes 0.3 s more per batch; consumers are taken for stalled
    only after 30 s, so a wait that does not follow them would show (it would last 30 s)."""
    real = SQLiteTelemetryView.apply
    monkeypatch.setattr(pacing, "STALLED_AFTER_S", 30.0)

    def slow(view: SQLiteTelemetryView, batches: Any, tracking: Any) -> Any:
        time.sleep(0.3)
        return real(view, batches, tracking)

    monkeypatch.setattr(SQLiteTelemetryView, "apply", slow)


def paced_system(path: Path, projections: str) -> System:
    settings = Settings(sqlite_path=path, projections=projections)
    system = build_system(
        settings, IngestSettings(ingest_flush_ms=5, ingest_max_consumer_lag_ms=50)
    )
    system.start()
    return system


@pytest.mark.usefixtures("slow_telemetry")
def test_ingestion_waits_for_the_slow_telemetry_worker_of_its_process(tmp_path: Path) -> None:
    system = paced_system(tmp_path / "fleet.sqlite3", "telemetry")
    try:
        # Without pacing it waits ~0 s; with it ~0.52 s here quiet, 0.47 s once under the
        # suite's load (the worker then takes two messages in one 0.3 s apply): more than one
        # slow apply is the proof, not a count of them.
        assert 0.3 < ingest_five_slowly(system) < 5
    finally:
        system.close()


@pytest.mark.usefixtures("slow_telemetry")
def test_ingestion_waits_for_the_slow_telemetry_worker_of_another_process(
    tmp_path: Path,
) -> None:
    consumers = paced_system(tmp_path / "fleet.sqlite3", "device_status,telemetry,alerting")
    ingestion = paced_system(tmp_path / "fleet.sqlite3", "users")
    try:
        assert 0.3 < ingest_five_slowly(ingestion) < 5  # through the workers' checkpoints
    finally:
        ingestion.close()
        consumers.close()


def test_ingestion_does_not_wait_for_consumers_that_run_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "STALLED_AFTER_S", 0.3)
    system = paced_system(tmp_path / "fleet.sqlite3", "users")
    try:
        assert ingest_five_slowly(system) < 0.6  # once, until they are seen not to move
    finally:
        system.close()
