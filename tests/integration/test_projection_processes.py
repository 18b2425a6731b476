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
from ingestion.settings import IngestSettings
from projections.views.telemetry_sqlite import SQLiteTelemetryView
from read_side.telemetry import HistoryQuery, Resolution
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.ingestion import Submission

META = EventMetadata("acme", "user:alice")
OTHERS = "device_status,alerts,alerting,users,notifier"


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
        "device_status", "alerting",
    ]  # fmt: skip
    saved = telemetry.app.register_device(RegisterDevice(name="p", device_type="pump"), META)
    device = saved.aggregate.id
    token = telemetry.app.issue_device_credential(
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


@pytest.mark.parametrize(("projections", "paced"), [("telemetry", True), ("users", False)])
def test_ingestion_waits_for_the_telemetry_consumers_of_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, projections: str, paced: bool
) -> None:
    """With the telemetry worker in this process and slow (0.3 s a batch), each commit waits
    for it to apply the one before (pacing); with only workers that ignore telemetry batches
    here, nothing waits."""
    real = SQLiteTelemetryView.apply

    def slow(view: SQLiteTelemetryView, batches: Any, tracking: Any) -> None:
        time.sleep(0.3)
        real(view, batches, tracking)

    monkeypatch.setattr(SQLiteTelemetryView, "apply", slow)
    settings = Settings(sqlite_path=tmp_path / "fleet.sqlite3", projections=projections)
    system = build_system(
        settings, IngestSettings(ingest_flush_ms=5, ingest_max_consumer_lag_ms=50)
    )
    system.start()
    try:
        saved = system.app.register_device(RegisterDevice(name="p", device_type="pump"), META)
        device = saved.aggregate.id
        credential = IssueDeviceCredential(device_id=device)
        token = system.app.issue_device_credential(credential, META).token
        assert system.ingest is not None
        for k in range(5):
            message = {
                "device_id": str(device), "message_id": f"m{k}",
                "timestamp": datetime.now(UTC).isoformat(), "metrics": {"temperature": 20.0 + k},
            }  # fmt: skip
            [result] = system.ingest.ingest([Submission(message, "http", token)])
            assert result.status == "accepted"
            time.sleep(0.1)  # the commit is now older than the 50 ms bound
        waited = system.ingest.paced_s
    finally:
        system.close()
    assert (waited > 0.5) is paced
    assert waited < 0.01 or paced
