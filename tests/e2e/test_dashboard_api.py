"""The analytics dashboard (docs/analytics.md 20.1) through the real app on the embedded
default: devices registered over REST, telemetry over `POST /ingest` with a device credential,
then `GET /analytics/dashboard` and GraphQL `dashboard` show the same figures, kept by the
dashboard projection; another tenant sees none of them; no token, no dashboard."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.conftest import Tokens, new_tenant

QUERY = """{ dashboard { devicesByStatus { value count } devicesByType { value count }
  devicesByFirmware { value count } onlineRatio openAlertsBySeverity { value count }
  readingsLastHour messagesLastHour } }"""


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["value"]: row["count"] for row in rows}


def test_the_dashboard_over_rest_and_graphql(api_client: TestClient, tokens: Tokens) -> None:
    tenant = new_tenant()
    admin, viewer = {"Authorization": tokens(tenant, "admin")}, tokens(tenant, "viewer")
    devices = [
        api_client.post("/devices", json={"name": n, "deviceType": t}, headers=admin).json()["id"]
        for n, t in (("p1", "pump"), ("p2", "pump"), ("v1", "valve"))
    ]
    secret = api_client.post(f"/devices/{devices[0]}/credentials", headers=admin).json()["token"]
    message = {
        "device_id": devices[0],
        "message_id": "m-1",
        "timestamp": datetime.now(UTC).isoformat(),
        "metrics": {"temp": 21.5, "humidity": 40.0},
        "firmware_version": "1.2.0",
    }
    sent = api_client.post(
        "/ingest", json={"messages": [message]}, headers={"Authorization": f"Device {secret}"}
    )
    assert sent.status_code in (200, 202), sent.text
    deadline, rest = time.monotonic() + 10, {}
    while time.monotonic() < deadline:
        response = api_client.get("/analytics/dashboard", headers={"Authorization": viewer})
        assert response.status_code == 200, response.text
        rest = response.json()
        if rest["readingsLastHour"] and counts(rest["devicesByStatus"]).get("online"):
            break
        time.sleep(0.05)
    assert counts(rest["devicesByStatus"]) == {"online": 1, "unknown": 2}
    assert counts(rest["devicesByType"]) == {"pump": 2, "valve": 1}
    assert counts(rest["devicesByFirmware"]) == {"1.2.0": 1, "unknown": 2}
    assert rest["onlineRatio"] == 1 / 3
    assert (rest["readingsLastHour"], rest["messagesLastHour"]) == (2, 1)
    assert rest["openAlertsBySeverity"] == []

    answer = api_client.post("/graphql", json={"query": QUERY}, headers={"Authorization": viewer})
    graphql = answer.json()["data"]["dashboard"]
    assert graphql == {key: rest[key] for key in graphql}

    other = {"Authorization": tokens(new_tenant(), "viewer")}
    elsewhere = api_client.get("/analytics/dashboard", headers=other).json()
    assert (elsewhere["devicesByStatus"], elsewhere["readingsLastHour"]) == ([], 0)
    assert api_client.get("/analytics/dashboard").status_code == 401
