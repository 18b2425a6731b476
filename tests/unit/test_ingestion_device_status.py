"""Device status from telemetry: last seen, online, last value per metric by device time,
credential changes; guards make replays harmless. Pure, plus the batch fold with fakes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.device_status import DeviceStatusProjection
from projections.device_status_evolve import evolve, evolve_telemetry, status_to_json
from read_side.device_status import DeviceStatus, DeviceStatusReader, DeviceStatusView
from tests.unit.envelopes import recorded

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEVICE = uuid.uuid4()
ROW = DeviceStatus(
    device_id=DEVICE, tenant_id="acme", name="p", device_type="pump", tags=(), metadata={},
    lifecycle="active", version=2, registered_at=T0, updated_at=T0, position=2,
)  # fmt: skip


def envelope(version: int, type_: str, payload: dict[str, Any], stream: str = "t") -> EventEnvelope:
    return recorded(
        type_,
        payload,
        stream_id=stream,
        version=version,
        at=T0,
        actor="system:ingestion",
        position=100 + version,
    )


def batch(
    version: int, received: int, *entries: tuple[str, int, dict[str, float]], **status: Any
) -> EventEnvelope:
    return envelope(
        version,
        "Telemetry.BatchRecorded",
        {
            "device_id": str(DEVICE),
            "received_at": T0 + timedelta(seconds=received),
            "transport": "mqtt",
            "entries": [
                {"message_id": m, "at": (T0 + timedelta(seconds=s)).isoformat(), "metrics": v,
                 "status": status}
                for m, s, v in entries
            ],
        },
    )  # fmt: skip


def test_a_batch_sets_last_seen_and_the_newest_value_of_each_metric() -> None:
    row = evolve_telemetry(ROW, batch(2, 50, ("a", 10, {"t": 1.0}), ("b", 5, {"t": 2.0, "h": 3.0})))
    assert row is not None
    assert row.last_seen_at == T0 + timedelta(seconds=50)
    assert row.last_values == {"t": 1.0, "h": 3.0}  # device time decides, not arrival order
    assert row.last_values_at["t"] == T0 + timedelta(seconds=10)
    assert row.telemetry_version == 2
    assert row.position == 102


def test_a_late_message_never_overwrites_a_newer_value() -> None:
    row = evolve_telemetry(ROW, batch(2, 50, ("a", 10, {"t": 1.0})))
    assert row is not None
    later = evolve_telemetry(row, batch(3, 60, ("old", 1, {"t": 9.0, "new_metric": 4.0})))
    assert later is not None
    assert later.last_values == {"t": 1.0, "new_metric": 4.0}
    assert later.last_seen_at == T0 + timedelta(seconds=60)


def test_status_fields_come_from_the_newest_message() -> None:
    row = evolve_telemetry(ROW, batch(2, 5, ("a", 5, {"t": 1.0}), battery=80, rssi=-70))
    assert row is not None
    assert (row.battery, row.rssi) == (80, -70)


def test_connectivity_events_set_online() -> None:
    came = envelope(2, "Telemetry.DeviceCameOnline", {"device_id": str(DEVICE), "at": T0})
    went = envelope(3, "Telemetry.DeviceWentOffline", {"device_id": str(DEVICE)})
    online = evolve_telemetry(ROW, came)
    assert online is not None
    assert online.online is True
    offline = evolve_telemetry(online, went)
    assert offline is not None
    assert offline.online is False


def test_telemetry_already_applied_is_skipped() -> None:
    row = replace(ROW, telemetry_version=5)
    assert evolve_telemetry(row, batch(5, 1, ("a", 1, {"t": 1.0}))) is None


def test_credential_events_move_the_row_version() -> None:
    issued = envelope(3, "Device.CredentialIssued", {"credential_id": "abcd1234"}, str(DEVICE))
    row = evolve(ROW, issued)
    assert row is not None
    assert (row.credential_id, row.version) == ("abcd1234", 3)
    revoked = evolve(row, envelope(4, "Device.CredentialRevoked", {}, str(DEVICE)))
    assert revoked is not None
    assert (revoked.credential_id, revoked.version) == (None, 4)


def test_json_form_of_a_telemetry_row_is_plain() -> None:
    row = evolve_telemetry(ROW, batch(2, 50, ("a", 10, {"t": 1.0})))
    assert row is not None
    data = status_to_json(row)
    json.dumps(data)
    assert data["last_values_at"] == {"t": (T0 + timedelta(seconds=10)).isoformat()}


class Rows:
    """A duck-typed view and reader (the ports grow with other slices; only these matter)."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, DeviceStatus] = {DEVICE: ROW}
        self.writes: list[tuple[int, int]] = []
        self.reads: list[int] = []  # devices asked for, per read

    def get(self, tenant_id: str, device_id: uuid.UUID) -> DeviceStatus | None:
        self.reads.append(1)
        return self.rows.get(device_id)

    def get_many(
        self, tenant_id: str, device_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, DeviceStatus]:
        self.reads.append(len(device_ids))
        return {d: self.rows[d] for d in device_ids if d in self.rows}

    def save_many(self, rows: Sequence[DeviceStatus], tracking: Tracking, **_: Any) -> None:
        self.writes.append((len(rows), tracking.notification_id))
        self.rows.update((r.device_id, r) for r in rows)

    def alert_devices(self, tenant_id: str, alert_ids: Sequence[str]) -> dict[str, uuid.UUID]:
        return {}


def test_a_batch_of_events_is_one_write_and_one_notice_per_row() -> None:
    rows = Rows()
    projection = DeviceStatusProjection(
        cast(DeviceStatusView, rows), cast(DeviceStatusReader, rows)
    )
    envelopes = [batch(v, v, (f"m{v}", v, {"t": float(v)})) for v in range(2, 12)]
    notices = projection.process_batch(envelopes, Tracking("x", 111))
    assert rows.writes == [(1, 111)]
    assert rows.reads == [1]  # the batch's rows are read at once, each device once
    assert [(n.topic, n.event_type) for n in notices] == [
        ("device_status", "Telemetry.BatchRecorded")
    ]
    assert rows.rows[DEVICE].last_values == {"t": 11.0}
    assert projection.process_batch(envelopes, Tracking("x", 112)) == []  # replay: guarded
