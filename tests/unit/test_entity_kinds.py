"""Entity kinds select their aggregates' topics through the event-name code (docs/audit.md
19.1), and an as-of shows an aggregate's public fields as JSON (19.2)."""

from __future__ import annotations

import json

from api.as_of import state_of
from write_side.alerts import ALERT_EVENTS
from write_side.audit_reads import TRAIL_READ_RECORDED
from write_side.deployment_claims import CLAIM_OPENED
from write_side.devices import DEVICE_CREDENTIAL_ISSUED, DEVICE_EVENTS, DEVICE_UPDATED, Device
from write_side.entity_kinds import EntityKind, is_change, select_kinds
from write_side.telemetry_log import TELEMETRY_EVENTS


def test_kinds_select_their_aggregates_topics_only() -> None:
    devices = select_kinds([EntityKind.DEVICE])
    assert all(devices(n.topic) for n in DEVICE_EVENTS)
    assert not devices(CLAIM_OPENED.topic)  # "DeviceClaim." is not under "Device."
    credentials = select_kinds([EntityKind.CREDENTIAL])
    assert credentials(DEVICE_CREDENTIAL_ISSUED.topic)
    assert not credentials(DEVICE_UPDATED.topic)
    deployments = select_kinds([EntityKind.DEPLOYMENT, EntityKind.ALERT])
    assert deployments(CLAIM_OPENED.topic)
    assert all(deployments(n.topic) for n in ALERT_EVENTS)
    every = select_kinds(EntityKind)
    assert not any(every(n.topic) for n in TELEMETRY_EVENTS)  # telemetry is no entity kind
    assert is_change(TELEMETRY_EVENTS[0].topic)
    assert not is_change(TRAIL_READ_RECORDED.topic)


def test_state_of_shows_public_fields_as_json() -> None:
    device = Device(tenant_id="acme", name="pump", device_type="p", tags=["a"], metadata={})
    state = state_of(device)
    assert state["name"] == "pump"
    assert state["id"] == str(device.id)
    assert state["version"] == 1
    assert isinstance(state["created_on"], str)
    assert not any(name.startswith("_") for name in state)
    json.dumps(state)  # plain JSON values only
