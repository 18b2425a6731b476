"""Issue 10, defect 6 through POST /ingest on the embedded default (SQLite): a device sends
1,100 messages, then re-sends `m0` and `m5`, older than its stream's 1,024-id window. The
answer is `duplicate`, and history (raw and rollups, over GraphQL) counts each message once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_telemetry_api import HISTORY, gql, ok, register


def body(device: str, start: datetime, ids: range | list[int]) -> dict[str, Any]:
    return {
        "messages": [
            {
                "device_id": device,
                "message_id": f"m{i}",
                "timestamp": (start + timedelta(seconds=i)).isoformat(),
                "metrics": {"temp": float(i)},
            }
            for i in ids
        ]
    }


def test_a_redelivery_older_than_the_window_is_a_duplicate_counted_once(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin, viewer = tokens(tenant, "admin"), tokens(tenant, "viewer")
    device = register(api_client, tokens(tenant, "operator"))
    issued = api_client.post(f"/devices/{device}/credentials", headers={"Authorization": admin})
    auth = {"Authorization": f"Device {issued.json()['token']}"}
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    for ids in (range(0, 550), range(550, 1100)):
        sent = api_client.post("/ingest", json=body(device, start, ids), headers=auth)
        assert sent.status_code == 200, sent.text
        assert {r["status"] for r in sent.json()["results"]} == {"accepted"}
    assert api_system.wait_for(api_system.app.recorder.max_notification_id() or 0, timeout=30)

    again = api_client.post("/ingest", json=body(device, start, [0, 5]), headers=auth)
    assert again.status_code == 200, again.text
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert api_system.wait_for(api_system.app.recorder.max_notification_id() or 0, timeout=30)

    window = {
        "id": device,
        "metric": "temp",
        "from": start.isoformat(),
        "to": (start + timedelta(hours=1)).isoformat(),
        "first": 5000,
    }
    history = ok(gql(api_client, viewer, HISTORY, **window))["telemetryHistory"]
    assert len(history["readings"]) == 1100
    minutes = ok(gql(api_client, viewer, HISTORY, **window, resolution="MINUTE"))
    first = minutes["telemetryHistory"]["buckets"][0]
    assert (first["start"][:19], first["count"]) == (start.isoformat()[:19], 60)
    hours = ok(gql(api_client, viewer, HISTORY, **window, resolution="HOUR"))
    assert sum(b["count"] for b in hours["telemetryHistory"]["buckets"]) == 1100
