"""A read-models file made by an earlier release opens as it is: the device-status table's
columns derive from the row's fields (`read_side.device_status.columns`), and the view adds
only the columns the file lacks, so the rows already there read back with the new fields at
their defaults and the projection goes on writing them."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from read_side.device_status import DeviceStatus
from read_side.device_status.columns import SQLITE_ROWS
from read_side.device_status.sqlite import SQLiteDeviceStatusReader, SQLiteDeviceStatusView

# The table as the first release created it (before credentials, telemetry and open alerts).
FIRST_RELEASE = (
    "CREATE TABLE device_status ("
    "tenant_id TEXT NOT NULL, device_id TEXT NOT NULL, name TEXT NOT NULL, "
    "device_type TEXT NOT NULL, lifecycle TEXT NOT NULL, tags TEXT NOT NULL, "
    "metadata TEXT NOT NULL, version INTEGER NOT NULL, registered_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, decommissioned_at TEXT, decommission_reason TEXT, "
    "position INTEGER NOT NULL, PRIMARY KEY (tenant_id, device_id)) WITHOUT ROWID"
)
T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def test_a_first_release_file_gets_the_new_columns_and_its_rows_read_back(tmp_path: Path) -> None:
    path = tmp_path / "read-models.sqlite3"
    device_id = uuid.uuid4()
    with sqlite3.connect(path) as db:
        db.execute(FIRST_RELEASE)
        db.execute(
            "INSERT INTO device_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("acme", device_id.hex, "pump 7", "pump", "decommissioned", '["north"]',
             '{"site": "a"}', 3, T0.isoformat(), T0.isoformat(), T0.isoformat(), "scrapped", 17),
        )  # fmt: skip
    db.close()
    datastore = SQLiteDatastore(str(path))
    view = SQLiteDeviceStatusView(datastore=datastore)
    view.create_table()
    reader = SQLiteDeviceStatusReader(datastore)

    old = reader.get("acme", device_id)
    assert old == DeviceStatus(
        device_id=device_id, tenant_id="acme", name="pump 7", device_type="pump",
        tags=("north",), metadata={"site": "a"}, lifecycle="decommissioned", version=3,
        registered_at=T0, updated_at=T0, decommissioned_at=T0, decommission_reason="scrapped",
        position=17,
    )  # fmt: skip
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(device_status)")}
    db.close()
    assert columns == set(SQLITE_ROWS.names)

    new = replace(
        old, position=18, credential_id="c1", last_seen_at=T0, online=False, battery=1e-200,
        last_values={"temp": 4.5}, last_values_at={"temp": T0}, telemetry_version=2,
        open_alerts={"a1": "critical"},
    )  # fmt: skip
    view.save_many([new], Tracking("device_status", 1))
    assert reader.get("acme", device_id) == new
    datastore.close()
