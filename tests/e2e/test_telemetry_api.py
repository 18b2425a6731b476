"""Telemetry through the real app (SQLite, projections running): history over GraphQL and REST,
the device-status fields (last seen, online, last values, open alerts), typed errors, tenants,
and a websocket subscriber receiving `telemetry` and `deviceStatusChanged`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from event_store.envelope import EventMetadata, recording_as
from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import (
    fanout_of,
    next_message,
    run,
    subscribe,
    until,
    ws_session,
)
from write_side.alerts import Alert
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HISTORY = """
query History($id: ID!, $metric: String!, $from: DateTime!, $to: DateTime!,
              $resolution: TelemetryResolution! = RAW, $first: Int! = 500, $after: String) {
  telemetryHistory(deviceId: $id, metric: $metric, from: $from, to: $to,
                   resolution: $resolution, first: $first, after: $after) {
    deviceId metric resolution from to
    readings { at value messageId }
    buckets { start end min max avg count }
    pageInfo { hasNextPage endCursor }
  }
}"""
STATUS = """
query Status($id: ID!) {
  device(id: $id) {
    id version connectivity online lastSeenAt openAlertCount highestOpenSeverity
    lastValues { metric value at }
    temp: lastValues(metrics: ["temp"]) { value }
  }
}"""
REGISTER = "mutation($input: RegisterDeviceInput!) { registerDevice(input: $input) { id } }"


def gql(client: TestClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": token}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def register(client: TestClient, token: str) -> str:
    created = ok(gql(client, token, REGISTER, input={"name": "boiler", "deviceType": "boiler"}))
    device_id: str = created["registerDevice"]["id"]
    return device_id


def record(
    system: System, tenant: str, device: str, messages: list[tuple[str, datetime, dict[str, float]]]
) -> int:
    """Store messages through the device's Telemetry aggregate and wait for the read models."""
    device_id = uuid.UUID(device)
    app = system.app
    stream = app.load_telemetry(telemetry_id(tenant, device_id)) or Telemetry(
        tenant_id=tenant, device_id=device_id
    )
    entries = [
        BatchEntry(mid, at, tuple(Reading(m, v, at) for m, v in metrics.items()))
        for mid, at, metrics in messages
    ]
    stream.record(entries, T0 + timedelta(days=1), "http")
    position = max(app.save_telemetry([stream], EventMetadata(tenant, "system:ingestion")).values())
    assert system.wait_for(position, 10)
    return position


def save_alert(system: System, tenant: str, alert: Alert) -> None:
    with recording_as(EventMetadata(tenant, "system:alerting")):
        recordings = system.app.save(alert)
    assert system.wait_for(max(r.notification.id or 0 for r in recordings), 10)


MESSAGES = [
    ("m1", T0 + timedelta(minutes=1, seconds=5), {"temp": 20.0, "hum": 40.0}),
    ("m2", T0 + timedelta(minutes=1, seconds=50), {"temp": 24.0}),
    ("m3", T0 + timedelta(hours=2), {"temp": 30.0, "hum": 42.0}),
]


def test_history_over_graphql_raw_and_rollups(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    viewer = tokens(tenant, "viewer")
    device = register(api_client, tokens(tenant, "operator"))
    record(api_system, tenant, device, MESSAGES)
    window = {"id": device, "metric": "temp", "from": T0.isoformat(), "to": "2026-03-02T00:00:00Z"}
    raw = ok(gql(api_client, viewer, HISTORY, **window, first=2))["telemetryHistory"]
    assert [(r["messageId"], r["value"]) for r in raw["readings"]] == [("m1", 20.0), ("m2", 24.0)]
    assert raw["buckets"] == []
    assert raw["pageInfo"]["hasNextPage"] is True
    rest = ok(gql(api_client, viewer, HISTORY, **window, after=raw["pageInfo"]["endCursor"]))
    assert [r["messageId"] for r in rest["telemetryHistory"]["readings"]] == ["m3"]
    minute = ok(gql(api_client, viewer, HISTORY, **window, resolution="MINUTE"))
    buckets = minute["telemetryHistory"]["buckets"]
    assert [(b["min"], b["max"], b["avg"], b["count"]) for b in buckets] == [
        (20.0, 24.0, 22.0, 2),
        (30.0, 30.0, 30.0, 1),
    ]
    assert buckets[0]["start"].startswith("2026-03-01T00:01:00")
    assert buckets[0]["end"].startswith("2026-03-01T00:02:00")
    day = ok(gql(api_client, viewer, HISTORY, **window, resolution="DAY"))["telemetryHistory"]
    assert [(b["count"], b["max"]) for b in day["buckets"]] == [(3, 30.0)]
    assert day["resolution"] == "DAY"


def test_history_errors_are_typed(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    viewer = tokens(tenant, "viewer")
    device = register(api_client, tokens(tenant, "operator"))
    base = {"id": device, "metric": "temp", "from": T0.isoformat(), "to": T0.isoformat()}

    def problem(**changes: Any) -> dict[str, Any]:
        body = gql(api_client, viewer, HISTORY, **(base | changes))
        (only,) = body["errors"]
        extensions: dict[str, Any] = only["extensions"]
        return extensions

    assert problem() == {"code": "BAD_USER_INPUT", "field": "to"}
    assert problem(to="2026-05-01T00:00:00Z") == {"code": "BAD_USER_INPUT", "field": "to"}
    later = "2026-03-02T00:00:00Z"
    assert problem(to=later, metric="bad metric") == {"code": "BAD_USER_INPUT", "field": "metric"}
    assert problem(to=later, first=0) == {"code": "BAD_USER_INPUT", "field": "first"}
    assert problem(to=later, after="nope") == {"code": "BAD_USER_INPUT", "field": "after"}
    assert problem(to=later, id="x") == {"code": "BAD_USER_INPUT", "field": "deviceId"}
    assert problem(to=later, id=str(uuid.uuid4()))["code"] == "NOT_FOUND"
    other = tokens(new_tenant(), "viewer")  # another tenant's caller: the device does not exist
    body = gql(api_client, other, HISTORY, **(base | {"to": later}))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    nobody = tokens(tenant)  # authenticated, no role
    body = gql(api_client, nobody, HISTORY, **(base | {"to": later}))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_history_over_rest(api_client: TestClient, api_system: System, tokens: Tokens) -> None:
    tenant = new_tenant()
    viewer = {"Authorization": tokens(tenant, "viewer")}
    device = register(api_client, tokens(tenant, "operator"))
    record(api_system, tenant, device, MESSAGES)
    window = {"metric": "hum", "from": "2026-03-01T00:00:00Z", "to": "2026-03-01T03:00:00Z"}
    raw = api_client.get(f"/devices/{device}/history", params=window, headers=viewer)
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert (body["deviceId"], body["metric"], body["resolution"]) == (device, "hum", "raw")
    assert [(r["messageId"], r["value"]) for r in body["readings"]] == [("m1", 40.0), ("m3", 42.0)]
    assert body["nextCursor"] is None
    assert body["from"].startswith("2026-03-01T00:00:00")
    hourly = api_client.get(
        f"/devices/{device}/history", params=window | {"resolution": "1h"}, headers=viewer
    ).json()
    assert [(b["min"], b["max"], b["count"]) for b in hourly["buckets"]] == [
        (40.0, 40.0, 1),
        (42.0, 42.0, 1),
    ]
    bad = api_client.get(
        f"/devices/{device}/history", params=window | {"to": "2026-02-01T00:00:00Z"}, headers=viewer
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "to"
    unparsable = api_client.get(
        f"/devices/{device}/history", params=window | {"from": "yesterday"}, headers=viewer
    )
    assert (unparsable.status_code, unparsable.json()["error"]["field"]) == (422, "from")
    missing = api_client.get(f"/devices/{uuid.uuid4()}/history", params=window, headers=viewer)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    anonymous = api_client.get(f"/devices/{device}/history", params=window)
    assert anonymous.status_code == 401


def test_device_status_shows_telemetry_and_open_alerts(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    viewer = tokens(tenant, "viewer")
    device = register(api_client, tokens(tenant, "operator"))
    fresh = ok(gql(api_client, viewer, STATUS, id=device))["device"]
    assert (fresh["connectivity"], fresh["online"], fresh["lastSeenAt"]) == ("UNKNOWN", None, None)
    assert (fresh["openAlertCount"], fresh["highestOpenSeverity"], fresh["lastValues"]) == (
        0,
        None,
        [],
    )
    record(api_system, tenant, device, MESSAGES)
    # An out-of-order reading older than the newest one does not replace it.
    record(api_system, tenant, device, [("late", T0, {"temp": -5.0, "volt": 3.3})])
    device_uuid = uuid.UUID(device)
    warning = Alert.open(
        tenant_id=tenant, rule_id=uuid.uuid4(), rule_revision=1, device_id=device_uuid,
        episode=1, severity="warning", value=30.0, at=T0,
    )  # fmt: skip
    info = Alert.open(
        tenant_id=tenant, rule_id=uuid.uuid4(), rule_revision=1, device_id=device_uuid,
        episode=1, severity="info", value=1.0, at=T0,
    )  # fmt: skip
    save_alert(api_system, tenant, warning)
    save_alert(api_system, tenant, info)
    info.escalate("critical", T0 + timedelta(minutes=5))
    save_alert(api_system, tenant, info)
    status = ok(gql(api_client, viewer, STATUS, id=device))["device"]
    assert (status["connectivity"], status["online"]) == ("ONLINE", True)
    assert status["lastSeenAt"].startswith("2026-03-02T00:00:00")
    assert [(v["metric"], v["value"]) for v in status["lastValues"]] == [
        ("hum", 42.0),
        ("temp", 30.0),
        ("volt", 3.3),
    ]
    assert status["temp"] == [{"value": 30.0}]
    assert (status["openAlertCount"], status["highestOpenSeverity"]) == (2, "CRITICAL")
    info.resolve("user:op", T0 + timedelta(minutes=9))
    save_alert(api_system, tenant, info)
    rest = api_client.get(f"/devices/{device}", headers={"Authorization": viewer}).json()
    assert (rest["openAlertCount"], rest["highestOpenSeverity"]) == (1, "warning")
    assert (rest["connectivity"], rest["online"]) == ("online", True)
    assert [v["metric"] for v in rest["lastValues"]] == ["hum", "temp", "volt"]
    assert rest["lastValues"][1]["at"].startswith("2026-03-01T02:00:00")


TELEMETRY = """
subscription Live($id: ID!) {
  telemetry(deviceId: $id, metrics: ["temp"]) {
    deviceId position messages { messageId at metrics { metric value } }
  }
}"""
STATUS_CHANGED = """
subscription Status($id: ID) {
  deviceStatusChanged(deviceId: $id) {
    eventType position device { id lastValues { metric value } online }
  }
}"""


def test_a_subscriber_receives_telemetry_and_status_changes(
    live_url: str,
    api_system: System,
    api_client: TestClient,
    tokens: Tokens,
) -> None:
    tenant = new_tenant()
    viewer = tokens(tenant, "viewer")
    device = register(api_client, tokens(tenant, "operator"))
    other = register(api_client, tokens(tenant, "operator"))
    fanout = fanout_of(api_system)

    async def scenario() -> None:
        async with ws_session(live_url, {"Authorization": viewer}) as ws:
            for op, query, variables in (
                ("t", TELEMETRY, {"id": device}),
                ("s", STATUS_CHANGED, {"id": device}),
            ):
                await subscribe(ws, op, query, variables)
            await until(lambda: fanout.subscriber_count(tenant, f"telemetry:{device}") == 1)
            await until(lambda: fanout.subscriber_count(tenant, "device_status") == 1)
            record(api_system, tenant, other, [("x", T0, {"temp": 1.0})])  # not this device
            position = record(api_system, tenant, device, MESSAGES)
            got: dict[str, Any] = {}
            while len(got) < 2:
                message = await next_message(ws)
                got[message["id"]] = message["payload"]["data"]
            live = got["t"]["telemetry"]
            assert (live["deviceId"], live["position"]) == (device, position)
            assert [m["messageId"] for m in live["messages"]] == ["m1", "m2", "m3"]
            assert live["messages"][0]["metrics"] == [{"metric": "temp", "value": 20.0}]
            changed = got["s"]["deviceStatusChanged"]
            assert changed["device"]["id"] == device
            assert changed["device"]["online"] is True
            assert {"metric": "temp", "value": 30.0} in changed["device"]["lastValues"]
            assert changed["eventType"] == "Telemetry.BatchRecorded"

    run(scenario)
