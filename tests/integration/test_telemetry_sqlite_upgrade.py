"""A read-models file whose raw readings were stored before they recorded their event's stream
version opens as it is: the view adds the `version` column, the rows already there keep NULL
and count as stored before any event (`stored_before`), and new rows carry their version."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from read_side.telemetry.batch import DeviceBatch, RawEntry
from read_side.telemetry.sqlite import SQLiteTelemetryReader, SQLiteTelemetryView

BEFORE_VERSIONS = (
    "CREATE TABLE telemetry_readings ("
    "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, metric TEXT NOT NULL, "
    "at_ms INTEGER NOT NULL, message_id TEXT NOT NULL, value REAL NOT NULL, "
    "PRIMARY KEY (tenant_id, device_id, metric, at_ms, message_id)) WITHOUT ROWID"
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def batch(device: uuid.UUID, version: int, *entries: RawEntry) -> DeviceBatch:
    return DeviceBatch(
        tenant_id="acme", device_id=device, version=version, position=version, received_at=T0,
        transport="http", entries=entries, status=tuple({} for _ in entries),
    )  # fmt: skip


def test_old_readings_count_as_stored_before_and_new_ones_carry_their_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "read-models.sqlite3"
    device = uuid.uuid4()
    old = RawEntry(1_000, "m-old", {"temp": 1.0})
    with sqlite3.connect(path) as db:
        db.execute(BEFORE_VERSIONS)
        db.execute(
            "INSERT INTO telemetry_readings VALUES (?, ?, ?, ?, ?, ?)",
            ("acme", device.hex, "temp", old.at_ms, old.message_id, 1.0),
        )
    db.close()
    datastore = SQLiteDatastore(str(path))
    view = SQLiteTelemetryView(datastore=datastore)
    view.create_table()
    reader = SQLiteTelemetryReader(datastore)
    new = RawEntry(2_000, "m-new", {"temp": 2.0})
    view.apply([batch(device, 5, new)], Tracking("Fleetwatch>telemetry", 5))
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT message_id, version FROM telemetry_readings"))
    db.close()
    assert rows == {"m-old": None, "m-new": 5}
    later = batch(device, 9, old, new)
    assert reader.stored_before(later, [old, new]) == {(1_000, "m-old"), (2_000, "m-new")}
    # as of the event that stored m-new, it was not stored before; m-old was
    assert reader.stored_before(batch(device, 5, old, new), [old, new]) == {(1_000, "m-old")}
