"""The device-status row codecs: a row read back is the row written, whatever JSON it holds, and
a field added to `DeviceStatus` is stored and read back by both stores with no other edit."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from read_side.columns import JsonCodec
from read_side.device_status import DeviceStatus
from read_side.device_status.columns import ITEMS, SQLITE_ROWS, to_item
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.sqlite_rows import SQLiteRowCodec

T0 = datetime(2026, 1, 1, 12, 30, 5, 123456, tzinfo=UTC)


def round_trip(status: DeviceStatus) -> DeviceStatus:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute(f"CREATE TABLE t ({', '.join(SQLITE_ROWS.names)})")
    marks = ", ".join("?" * len(SQLITE_ROWS.names))
    db.execute(f"INSERT INTO t VALUES ({marks})", SQLITE_ROWS.to_row(status))
    return SQLITE_ROWS.from_row(db.execute("SELECT * FROM t").fetchone())


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
    item = to_item(status)
    assert ITEMS.from_item(item) == status
    item["battery"], item["rssi"] = {"N": "87.5"}, {"N": "-70.25"}
    assert ITEMS.from_item(item) == status


@dataclass(frozen=True)
class WithService(DeviceStatus):
    """A throwaway definition: the row with fields more, one of each kind a field may be."""

    serviced_at: datetime | None = None
    service_notes: tuple[str, ...] = ()
    service_readings: dict[str, float] = field(default_factory=dict)
    service_times: dict[str, datetime] = field(default_factory=dict)
    under_warranty: bool = False
    service_count: int = 0
    technician: str | None = None


def a_serviced_row() -> WithService:
    return WithService(
        device_id=uuid.uuid4(), tenant_id="acme", name="Pump 7", device_type="pump",
        tags=("north",), metadata={"site": "a"}, lifecycle="active", version=3,
        registered_at=T0, updated_at=T0, position=5, last_values={"temp": 21.5},
        last_values_at={"temp": T0}, open_alerts={"a1": "warning"},
        serviced_at=T0 + timedelta(hours=1), service_notes=("oiled", "ünïcode"),
        service_readings={"pressure": 1e-200, "flow": -0.25},
        service_times={"pressure": T0 + timedelta(microseconds=1)}, under_warranty=True,
        service_count=2**40, technician="O'Brien",
    )  # fmt: skip


def table_with(codec: SQLiteRowCodec[Any], row: Any) -> sqlite3.Connection:
    """An in-memory table made from the codec's own (derived) column definitions, holding `row`."""
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute(f"CREATE TABLE t ({', '.join(codec.definitions())})")
    marks = ", ".join("?" * len(codec.names))
    db.execute(f"INSERT INTO t ({', '.join(codec.names)}) VALUES ({marks})", codec.to_row(row))
    return db


def sqlite_round_trip(codec: SQLiteRowCodec[Any], row: Any) -> Any:
    return codec.from_row(table_with(codec, row).execute("SELECT * FROM t").fetchone())


NEW_FIELDS = [f.name for f in fields(WithService)][len(fields(DeviceStatus)) :]


def without_service(row: WithService) -> DeviceStatus:
    return DeviceStatus(**{f.name: getattr(row, f.name) for f in fields(DeviceStatus)})


def at_defaults(row: DeviceStatus) -> WithService:
    """`row` with the added fields at their defaults."""
    return WithService(**{f.name: getattr(row, f.name) for f in fields(DeviceStatus)})


def test_a_field_added_to_the_row_is_stored_and_notified_with_no_other_edit() -> None:
    row = a_serviced_row()
    plain = at_defaults(row)
    assert all(getattr(plain, name) != getattr(row, name) for name in NEW_FIELDS)
    sqlite, dynamodb = SQLiteRowCodec(WithService), DynamoDBItemCodec(WithService)
    notices = JsonCodec(WithService)
    assert set(NEW_FIELDS) <= set(sqlite.names)
    assert set(NEW_FIELDS) <= set(dynamodb.to_item(row))
    for each in (row, plain):
        assert sqlite_round_trip(sqlite, each) == each
        assert dynamodb.from_item(dynamodb.to_item(each)) == each
        assert notices.from_json(json.loads(json.dumps(notices.to_json(each)))) == each


def test_rows_stored_before_a_field_was_added_read_back_with_its_default() -> None:
    """An existing SQLite file gets the new columns by `ALTER TABLE ... ADD COLUMN` (as the view
    does at start); an existing DynamoDB item simply lacks the attribute."""
    old, new = SQLiteRowCodec(DeviceStatus), SQLiteRowCodec(WithService)
    before = without_service(a_serviced_row())
    db = table_with(old, before)
    for name, definition in zip(new.names, new.definitions(), strict=True):
        if name not in old.names:
            db.execute(f"ALTER TABLE t ADD COLUMN {definition}")
    expected = at_defaults(before)
    assert new.from_row(db.execute("SELECT * FROM t").fetchone()) == expected
    item = to_item(before)
    assert DynamoDBItemCodec(WithService).from_item(item) == expected


def test_a_type_no_store_knows_fails_when_the_codec_is_built() -> None:
    @dataclass(frozen=True)
    class WithSet(DeviceStatus):
        labels: frozenset[str] = frozenset()

    for codec in (SQLiteRowCodec, DynamoDBItemCodec, JsonCodec):
        with pytest.raises(TypeError, match="frozenset"):
            codec(WithSet)


def test_the_table_definition_keeps_the_columns_existing_files_have() -> None:
    """The derived definitions of today's fields are the ones the hand-written table had, so a
    file made by an earlier release is read as it is (only missing columns are added)."""
    expected = (
        "device_id TEXT NOT NULL",
        "tenant_id TEXT NOT NULL",
        "name TEXT NOT NULL",
        "device_type TEXT NOT NULL",
        "tags TEXT NOT NULL",
        "metadata TEXT NOT NULL",
        "lifecycle TEXT NOT NULL",
        "version INTEGER NOT NULL",
        "registered_at TEXT NOT NULL",
        "updated_at TEXT NOT NULL",
        "decommissioned_at TEXT",
        "decommission_reason TEXT",
        "position INTEGER NOT NULL DEFAULT 0",
        "credential_id TEXT",
        "last_seen_at TEXT",
        "online INTEGER",
        "last_values TEXT",
        "firmware_version TEXT",
        "battery REAL",
        "rssi REAL",
        "telemetry_version INTEGER NOT NULL DEFAULT 0",
        "open_alerts TEXT",
    )
    # Each column's definition, keyed by the column it defines (its first word).
    assert dict(zip(SQLITE_ROWS.names, SQLITE_ROWS.definitions(), strict=True)) == {
        definition.split()[0]: definition for definition in expected
    }
