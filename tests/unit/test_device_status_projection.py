"""`evolve` folds Device envelopes into a row: pure, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from event_store.envelope import EventEnvelope
from projections.device_status_evolve import _replace, evolve, status_to_json
from tests.unit.envelopes import recorded

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEVICE = uuid.uuid4()


def envelope(version: int, type_: str, payload: dict[str, Any]) -> EventEnvelope:
    at = T0 + timedelta(minutes=version)
    return recorded(
        type_,
        payload,
        stream_id=DEVICE,
        version=version,
        at=at,
        actor="user:alice",
        position=version * 10,
    )


REGISTERED = envelope(
    1,
    "Device.Registered",
    {"tenant_id": "acme", "name": "p", "device_type": "pump", "tags": ["a"], "metadata": {}},
)


def test_registered_creates_an_active_row() -> None:
    row = evolve(None, REGISTERED)
    assert row is not None
    assert (row.device_id, row.tenant_id, row.lifecycle, row.version) == (
        DEVICE,
        "acme",
        "active",
        1,
    )
    assert row.registered_at == row.updated_at == T0 + timedelta(minutes=1)
    assert row.position == 10


def test_updated_changes_only_the_recorded_fields() -> None:
    row = evolve(None, REGISTERED)
    updated = evolve(
        row,
        envelope(
            2,
            "Device.Updated",
            {"name": None, "device_type": "valve", "tags": ["b"], "metadata": None},
        ),
    )
    assert updated is not None
    assert (updated.name, updated.device_type, updated.tags) == ("p", "valve", ("b",))
    assert updated.version == 2
    assert updated.registered_at == T0 + timedelta(minutes=1)


def test_decommissioned_marks_the_row() -> None:
    row = evolve(None, REGISTERED)
    gone = evolve(row, envelope(2, "Device.Decommissioned", {"reason": "eol"}))
    assert gone is not None
    assert gone.lifecycle == "decommissioned"
    assert gone.decommission_reason == "eol"
    assert gone.decommissioned_at == T0 + timedelta(minutes=2)


def test_unknown_events_and_orphans_change_nothing() -> None:
    assert evolve(None, envelope(2, "Device.Updated", {"name": "x"})) is None
    assert evolve(None, envelope(1, "Alert.Raised", {})) is None


def test_json_form_is_plain() -> None:
    row = evolve(None, REGISTERED)
    assert row is not None
    data = status_to_json(row)
    assert data["device_id"] == str(DEVICE)
    assert data["tags"] == ["a"]
    assert data["registered_at"] == (T0 + timedelta(minutes=1)).isoformat()


def test_the_fast_replace_is_dataclasses_replace_and_refuses_unknown_fields() -> None:
    row = evolve(None, REGISTERED)
    assert row is not None
    changes: dict[str, Any] = {"online": True, "telemetry_version": 7, "battery": 0.5}
    fast = _replace(row, **changes)
    assert fast == replace(row, **changes)
    assert (row.online, row.telemetry_version, row.battery) == (None, 0, None)  # untouched
    with pytest.raises(TypeError, match="onlnie"):
        _replace(row, onlnie=True)
