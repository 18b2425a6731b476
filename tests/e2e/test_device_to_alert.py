"""The heart of the product through its real entry points: a device's HTTP telemetry crosses
a threshold, a GraphQL subscriber sees the alert, an operator acknowledges it, the device cools
down and the alert resolves itself; device status, history and timeline show all of it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import fanout_of, next_message, subscribe, until, ws_session

WAIT = 15.0
CHANGED = """subscription { alertChanged { transition alert { id state severity count } } }"""


def message(device: str, temp: float, at: datetime) -> dict[str, Any]:
    return {
        "device_id": device,
        "message_id": uuid.uuid4().hex,
        "timestamp": at.isoformat(),
        "metrics": {"temp": temp, "humidity": 40.0},
    }


def test_http_telemetry_raises_an_alert_that_is_handled_and_clears(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    fanout = fanout_of(api_system)
    admin, operator, viewer = (tokens(tenant, r) for r in ("admin", "operator", "viewer"))
    http = httpx.Client(base_url=f"http://{live_url}", timeout=WAIT)

    def gql(query: str, token: str, **variables: Any) -> dict[str, Any]:
        body = http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": token},
        ).json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    device = http.post(
        "/devices", json={"name": "pump 7", "deviceType": "pump"}, headers={"Authorization": admin}
    ).json()["id"]
    credential = gql(
        "mutation($id: ID!) { issueDeviceCredential(input: {id: $id}) { token credentialId } }",
        operator,
        id=device,
    )["issueDeviceCredential"]
    device_auth = {"Authorization": f"Device {credential['token']}"}
    rule = {
        "name": "Pump too hot",
        "scope": {"deviceType": "pump"},
        "severity": "CRITICAL",
        "condition": {"kind": "THRESHOLD", "metric": "temp", "op": "GT", "value": 80},
        "clearCondition": {"op": "LT", "value": 75},
    }
    gql(
        "mutation($input: CreateAlertRuleInput!) { createAlertRule(input: $input) { id } }",
        admin,
        input={"definition": rule},
    )
    received: list[dict[str, Any]] = []
    t0 = datetime.now(UTC) - timedelta(seconds=30)

    def ingest(*temps: float, start: int) -> httpx.Response:
        body = {
            "messages": [
                message(device, t, t0 + timedelta(seconds=start + i)) for i, t in enumerate(temps)
            ]
        }
        return http.post("/ingest", json=body, headers=device_auth)

    async def subscriber(ready: asyncio.Event, raised: asyncio.Event) -> None:
        async with ws_session(live_url, {"Authorization": viewer}, WAIT) as ws:
            await subscribe(ws, "1", CHANGED)
            # Notices are at most once: the telemetry may only go once the server listens.
            await until(lambda: fanout.subscriber_count(tenant, "alert") == 1)
            ready.set()
            while len(received) < 3:
                message = await next_message(ws, WAIT)
                received.append(message["payload"]["data"]["alertChanged"])
                raised.set()

    async def scenario() -> None:
        ready, raised = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(subscriber(ready, raised))
        await ready.wait()
        hot = await asyncio.to_thread(ingest, 70, 85, start=0)
        assert hot.status_code == 200, hot.text
        assert [r["status"] for r in hot.json()["results"]] == ["accepted", "accepted"]
        redelivered = {"messages": [json.loads(hot.request.content)["messages"][1]]}
        replay = await asyncio.to_thread(
            http.post, "/ingest", json=redelivered, headers=device_auth
        )
        assert replay.json()["results"][0]["status"] == "duplicate"
        await asyncio.wait_for(raised.wait(), WAIT)
        alert_id = received[0]["alert"]["id"]
        acked = await asyncio.to_thread(
            http.post,
            f"/alerts/{alert_id}/acknowledge",
            json={"note": "looking"},
            headers={"Authorization": operator},
        )
        assert acked.status_code == 200, acked.text
        cool = await asyncio.to_thread(ingest, 78, 70, start=10)  # 78: hysteresis, no clear yet
        assert cool.status_code == 200, cool.text
        await asyncio.wait_for(task, WAIT)

    asyncio.run(asyncio.wait_for(scenario(), 45))
    assert [(r["transition"], r["alert"]["state"]) for r in received] == [
        ("RAISED", "OPEN"),
        ("ACKNOWLEDGED", "ACKNOWLEDGED"),
        ("RESOLVED", "RESOLVED"),
    ]
    alert = http.get(f"/alerts/{received[0]['alert']['id']}", headers={"Authorization": viewer})
    shown = alert.json()
    assert shown["resolution"] == "auto" or shown["resolvedBy"] == "system:auto", shown
    assert [e["transition"] for e in shown["timeline"]] == ["raised", "acknowledged", "resolved"]

    status = gql(
        "query($id: ID!) { device(id: $id) { online openAlertCount lastValues { metric value } } }",
        viewer,
        id=device,
    )["device"]
    assert status["online"] is True
    assert status["openAlertCount"] == 0
    assert {v["metric"]: v["value"] for v in status["lastValues"]}["temp"] == 70.0
    history = http.get(
        f"/devices/{device}/history",
        params={
            "metric": "temp",
            "from": (t0 - timedelta(minutes=1)).isoformat(),
            "to": (t0 + timedelta(minutes=1)).isoformat(),
        },
        headers={"Authorization": viewer},
    ).json()
    assert [r["value"] for r in history["readings"]] == [70.0, 85.0, 78.0, 70.0]
    wrong = http.post("/ingest", json={"messages": [message(device, 1, t0)]},
                      headers={"Authorization": "Device fwd1.bogus"})  # fmt: skip
    assert wrong.status_code == 401
    http.close()


def test_metrics_count_accepted_and_rejected_telemetry(live_url: str, tokens: Tokens) -> None:
    tenant = new_tenant()
    http = httpx.Client(base_url=f"http://{live_url}", timeout=WAIT)
    admin = tokens(tenant, "admin")
    device = http.post(
        "/devices", json={"name": "m", "deviceType": "pump"}, headers={"Authorization": admin}
    ).json()["id"]
    token = http.post(f"/devices/{device}/credentials", headers={"Authorization": admin}).json()[
        "token"
    ]
    now = datetime.now(UTC)
    good = message(device, 20.0, now) | {"metrics": {"temp": 20.0, "hum": "wet"}}
    assert (
        http.post(
            "/ingest", json={"messages": [good]}, headers={"Authorization": f"Device {token}"}
        ).status_code
        == 207
    )
    assert http.post(
        "/ingest",
        json={"messages": [message(str(uuid.uuid4()), 1.0, now)]},
        headers={"Authorization": f"Device {token}"},
    ).status_code in (401, 207)
    text = http.get("/metrics").text
    assert 'fleetwatch_ingest_messages_total{status="accepted"} 1' in text
    assert 'fleetwatch_ingest_readings_rejected_total{code="NOT_A_NUMBER"} 1' in text
    assert "fleetwatch_ingest_rejected_messages_total{code=" in text
    assert 'fleetwatch_projection_lag{projection="device_status"}' in text
    assert 'fleetwatch_ingest_commits_total{outcome="ok"} ' in text
    assert "fleetwatch_ingest_pending_messages " in text
    assert "fleetwatch_ingest_paced_seconds_total " in text
    http.close()
