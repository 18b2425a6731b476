"""The embedded default's two SQLite files: events (with the outbox and the alerting
checkpoint) at `FLEETWATCH_SQLITE_PATH`, read models beside it, each with its own durability."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as c:
        return {row[0] for row in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_read_models_live_beside_the_event_store_and_are_rebuilt_when_deleted(
    tmp_path: Path,
) -> None:
    settings = Settings(sqlite_path=tmp_path / "fw.sqlite3")
    assert settings.read_models_path == tmp_path / "fw-read-models.sqlite3"
    system = build_system(settings)
    try:
        system.start()
        saved = system.device_service.register(
            RegisterDevice(name="pump-1", device_type="pump"), EventMetadata("acme", "user:a")
        )
        assert system.wait_for(saved.position, timeout=10)
        assert system.devices.get("acme", saved.aggregate.id) is not None
        view = system.views["device_status"]
        with view.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
            c.execute("PRAGMA synchronous")
            read_models_sync = c.fetchone()[0]
        with system.app.recorder.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
            c.execute("PRAGMA synchronous")
            events_sync = c.fetchone()[0]
    finally:
        system.close()
    assert (read_models_sync, events_sync) == (1, 2)  # NORMAL for read models, FULL for events
    events, read_models = tables(settings.sqlite_path), tables(settings.read_models_path)
    assert "stored_events" in events
    assert "stored_events" not in read_models
    assert {"device_status", "telemetry_readings", "telemetry_rollups"} <= read_models
    assert not {"device_status", "telemetry_readings"} & events

    settings.read_models_path.unlink()  # rebuildable: a new file is filled from the feed
    system = build_system(settings)
    try:
        system.start()
        assert system.wait_for(system.event_log.head(), timeout=10)
        assert system.devices.get("acme", saved.aggregate.id) is not None
    finally:
        system.close()
