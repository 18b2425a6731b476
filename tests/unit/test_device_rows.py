"""The device-status row codec: a row read back is the row written, whatever JSON it holds."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

from read_side.device_status import DeviceStatus, dynamodb_items
from read_side.device_status.sqlite_rows import COLUMNS, from_row, to_row

T0 = datetime(2026, 1, 1, 12, 30, 5, 123456, tzinfo=UTC)


def round_trip(status: DeviceStatus) -> DeviceStatus:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute(f"CREATE TABLE t ({', '.join(COLUMNS)})")
    db.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(COLUMNS))})", to_row(status))
    return from_row(db.execute("SELECT * FROM t").fetchone())


def test_a_full_row_reads_back_as_written() -> None:
    status = DeviceStatus(
        device_id=uuid.uuid4(), tenant_id="acme", name="pump 7", device_type="pump",
        tags=("north", "ünïcode"), metadata={"site": {"floor": 3, "ok": True}, "a": [1.5, None]},
        lifecycle="active", version=4, registered_at=T0, updated_at=T0 + timedelta(days=1),
        position=99, credential_id="c1", last_seen_at=T0 + timedelta(seconds=7), online=True,
        last_values={"temp": 21.5, "hum": -0.25},
        last_values_at={"temp": T0, "hum": T0 + timedelta(microseconds=1)},
        firmware_version="1.2.3", battery=87.0, rssi=-70.0, telemetry_version=12,
        open_alerts={"a1": "critical", "a0": "info"},
    )  # fmt: skip
    assert round_trip(status) == status


def test_metadata_beyond_what_orjson_encodes_still_round_trips() -> None:
    status = DeviceStatus(
        device_id=uuid.uuid4(), tenant_id="acme", name="p", device_type="pump", tags=(),
        metadata={"serial": 2**70 + 1}, lifecycle="active", version=1, registered_at=T0,
        updated_at=T0, position=1,
    )  # fmt: skip
    assert round_trip(status).metadata == {"serial": 2**70 + 1}


def test_a_dynamodb_item_written_with_numeric_battery_and_rssi_still_reads() -> None:
    """Items written before battery and RSSI became text (DynamoDB's N refuses 1e-200) hold N."""
    status = DeviceStatus(
        device_id=uuid.uuid4(), tenant_id="acme", name="p", device_type="pump", tags=(),
        metadata={}, lifecycle="active", version=1, registered_at=T0, updated_at=T0, position=1,
        battery=87.5, rssi=-70.25,
    )  # fmt: skip
    item = dynamodb_items.to_item(status)
    assert dynamodb_items.from_item(item) == status
    item["battery"], item["rssi"] = {"N": "87.5"}, {"N": "-70.25"}
    assert dynamodb_items.from_item(item) == status
