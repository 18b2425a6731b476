"""The alerts slice end to end, through the real app on SQLite with every worker running: rule
CRUD over GraphQL and REST, a simulated device crossing a threshold, an `alertChanged`
subscriber (graphql-transport-ws on uvicorn), acknowledge and resolve, the timeline, error
codes, permissions, and a second tenant that sees and touches nothing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from fleetwatch.settings import Settings
from tests.e2e.conftest import TEST_SECRET, Tokens, new_tenant
from tests.e2e.graphql_client import next_message, subscribe, ws_session
from write_side.commands import RegisterDevice
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

WAIT = 10.0
RULE_FIELDS = "id name severity enabled deleted revision version condition { kind metric op value }"
RULE_FIELDS += (
    " effectiveClear { op value } scope { deviceType tag deviceId } revisions { revision }"
)
CREATE_RULE = f"""mutation($input: CreateAlertRuleInput!) {{
  createAlertRule(input: $input) {{ {RULE_FIELDS} }} }}"""
REVISE_RULE = f"""mutation($input: ReviseAlertRuleInput!) {{
  reviseAlertRule(input: $input) {{ {RULE_FIELDS} }} }}"""
DELETE_RULE = f"""mutation($input: DeleteAlertRuleInput!) {{
  deleteAlertRule(input: $input) {{ {RULE_FIELDS} }} }}"""
RULES = """query($filter: AlertRuleFilter) { alertRules(filter: $filter) {
  edges { node { id name revision deleted } } pageInfo { hasNextPage } } }"""
ALERT_FIELDS = """id state severity count lastValue peakValue ruleName deviceName conditionText
  acknowledgedBy acknowledgeNote resolvedBy resolution resolveNote version
  rule { name } timeline { transition actor note count }"""
ALERTS = f"""query($filter: AlertFilter, $first: Int! = 50, $after: String) {{
  alerts(filter: $filter, first: $first, after: $after) {{
    edges {{ cursor node {{ {ALERT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
ONE_ALERT = f"query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} }} }}"
ACK = f"""mutation($input: AcknowledgeAlertInput!) {{ acknowledgeAlert(input: $input) {{
  {ALERT_FIELDS} }} }}"""
RESOLVE = f"""mutation($input: ResolveAlertInput!) {{ resolveAlert(input: $input) {{
  {ALERT_FIELDS} }} }}"""
TIMELINE = """query($filter: AlertTimelineFilter, $order: SortOrder! = NEWEST_FIRST,
  $first: Int! = 50, $after: String) {
  alertTimeline(filter: $filter, order: $order, first: $first, after: $after) {
    edges { node { alertId deviceId transition stateAfter actor note severity count } }
    pageInfo { hasNextPage endCursor } } }"""
CHANGED = """subscription($severity: Severity, $deviceId: ID) {
  alertChanged(severity: $severity, deviceId: $deviceId) {
    transition eventType position alert { id state severity deviceId count } } }"""
HOT = {
    "name": "Pump too hot",
    "scope": {"deviceType": "pump"},
    "severity": "WARNING",
    "condition": {"kind": "THRESHOLD", "metric": "temp", "op": "GT", "value": 80},
    "clearCondition": {"op": "LT", "value": 75},
}
REST_HOT = {
    "name": "Pump too hot",
    "scope": {"deviceType": "pump"},
    "severity": "warning",
    "condition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 80},
    "clearCondition": {"op": "<", "value": 75},
}


@pytest.fixture(params=["sqlite", "dynamodb"])
def api_settings(request: pytest.FixtureRequest, tmp_path: Any) -> Settings:
    """The e2e settings on the embedded default and on DynamoDB Local (this module only)."""
    settings = Settings(
        store="sqlite",
        sqlite_path=tmp_path / "fleet.sqlite3",
        jwt_secret=TEST_SECRET,
        jwks_url=None,
        jwt_issuer=None,
        jwt_audience=None,
        run_projections=True,
    )
    if request.param == "dynamodb":
        settings = settings.model_copy(
            update={
                "store": "dynamodb",
                "dynamodb_endpoint_url": request.getfixturevalue("dynamodb_endpoint"),
                "dynamodb_table_prefix": request.getfixturevalue("table_prefix"),
            }
        )
    return settings.model_copy(update={"redis_url": None})


def gql(client: TestClient, query: str, token: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": token}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    extensions: dict[str, Any] = body["errors"][0]["extensions"]
    return extensions


def register(system: System, tenant: str, device_type: str = "pump") -> UUID:
    command = RegisterDevice(name=f"{device_type}-1", device_type=device_type)
    return system.device_service.register(command, EventMetadata(tenant, "user:admin")).aggregate.id


def send(system: System, tenant: str, device: UUID, *temps: float) -> None:
    """One batch of messages from a simulated device (one reading of `temp` each)."""
    stream = system.app.load_telemetry(telemetry_id(tenant, device))
    stream = stream or Telemetry(tenant_id=tenant, device_id=device)
    now = datetime.now(UTC)
    times = [now - timedelta(milliseconds=10 * (len(temps) - i)) for i in range(len(temps))]
    entries = [
        BatchEntry(uuid.uuid4().hex, t, (Reading("temp", v, t),))
        for t, v in zip(times, temps, strict=True)
    ]
    stream.record(entries, now, "http")
    system.app.save_telemetry([stream], EventMetadata(tenant, f"device:{device}"))


def eventually(check: Callable[[], Any], within: float = WAIT) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_rule_crud_permissions_validation_and_tenants(
    api_client: TestClient, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin, operator, viewer = (tokens(tenant, r) for r in ("admin", "operator", "viewer"))
    stranger = tokens(new_tenant(), "admin")
    created = data(gql(api_client, CREATE_RULE, admin, input={"definition": HOT}))[
        "createAlertRule"
    ]
    assert (created["name"], created["severity"], created["revision"], created["version"]) == (
        "Pump too hot", "WARNING", 1, 1,
    )  # fmt: skip
    assert created["effectiveClear"] == {"op": "LT", "value": 75.0}
    assert created["scope"] == {"deviceType": "pump", "tag": None, "deviceId": None}
    for token in (operator, viewer):
        assert (
            error(gql(api_client, CREATE_RULE, token, input={"definition": HOT}))["code"]
            == "FORBIDDEN"
        )
    bad = HOT | {"condition": {"kind": "THRESHOLD", "metric": "temp", "op": "GT"}}
    problem = error(gql(api_client, CREATE_RULE, admin, input={"definition": bad}))
    assert (problem["code"], problem["field"]) == ("BAD_USER_INPUT", "definition.condition.value")
    overlap = HOT | {"clearCondition": {"op": "LT", "value": 90}}
    problem = error(gql(api_client, CREATE_RULE, admin, input={"definition": overlap}))
    assert (problem["code"], problem["field"]) == ("BAD_USER_INPUT", "definition.clearCondition")

    # REST: list, show, revise (If-Match), stale revise, bad body, delete.
    headers = {"Authorization": viewer}
    listed = api_client.get("/alert-rules", headers=headers).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    assert listed["items"][0]["definition"]["clearCondition"] == {"op": "<", "value": 75.0}
    # The rule's structured fields, as GraphQL shows them (`api.alert_view.AlertRulePublic`).
    assert listed["items"][0]["effectiveClear"] == {"op": "<", "value": 75.0}
    assert listed["items"][0]["scope"] == {"deviceType": "pump", "tag": None, "deviceId": None}
    assert listed["items"][0]["condition"]["op"] == ">"
    hotter = REST_HOT | {"severity": "critical"}
    put = api_client.put(
        f"/alert-rules/{created['id']}",
        json=hotter,
        headers={"Authorization": admin, "If-Match": '"1"'},
    )
    assert put.status_code == 200, put.text
    assert (put.json()["revision"], put.json()["severity"], put.headers["ETag"]) == (
        2,
        "critical",
        '"2"',
    )
    stale = api_client.put(
        f"/alert-rules/{created['id']}",
        json=REST_HOT,
        headers={"Authorization": admin, "If-Match": '"1"'},
    )
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "CONFLICT")
    broken = api_client.post(
        "/alert-rules",
        json=REST_HOT | {"condition": {"kind": "absence"}},
        headers={"Authorization": admin},
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["field"] == "condition.seconds"
    assert api_client.post("/alert-rules", json=REST_HOT, headers=headers).status_code == 403
    rule = api_client.get(f"/alert-rules/{created['id']}", headers=headers).json()
    assert [r["revision"] for r in rule["revisions"]] == [1, 2]

    # Another tenant: not found everywhere; sees no rules.
    assert (
        api_client.get(
            f"/alert-rules/{created['id']}", headers={"Authorization": stranger}
        ).status_code
        == 404
    )
    revise = {"id": created["id"], "definition": HOT}
    assert error(gql(api_client, REVISE_RULE, stranger, input=revise))["code"] == "NOT_FOUND"
    assert data(gql(api_client, RULES, stranger))["alertRules"]["edges"] == []

    deleted = data(
        gql(api_client, DELETE_RULE, admin, input={"id": created["id"], "expectedVersion": 2})
    )
    assert deleted["deleteAlertRule"]["deleted"] is True
    assert data(gql(api_client, RULES, viewer))["alertRules"]["edges"] == []
    everything = data(gql(api_client, RULES, viewer, filter={"includeDeleted": True}))
    assert [e["node"]["deleted"] for e in everything["alertRules"]["edges"]] == [True]
    again = api_client.delete(f"/alert-rules/{created['id']}", headers={"Authorization": admin})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "ALERT_RULE_DELETED")
    assert error(gql(api_client, RULES, viewer, filter={"severity": "LOUD"}))["code"] in (
        "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED",
    )  # fmt: skip


def test_a_device_crosses_a_threshold_a_subscriber_sees_it_an_operator_handles_it(
    live_url: str, api_system: System, tokens: Tokens
) -> None:
    tenant, other = new_tenant(), new_tenant()
    admin, operator, viewer = (tokens(tenant, r) for r in ("admin", "operator", "viewer"))
    stranger = tokens(other, "admin")
    base = f"http://{live_url}"
    client = httpx.Client(base_url=base, timeout=WAIT)

    def call(query: str, token: str, **variables: Any) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": token},
        )
        body: dict[str, Any] = response.json()
        return body

    data(call(CREATE_RULE, admin, input={"definition": HOT}))
    pump, valve = register(api_system, tenant), register(api_system, tenant, "valve")
    other_pump = register(api_system, other)
    data(call(CREATE_RULE, stranger, input={"definition": HOT}))
    received: list[dict[str, Any]] = []

    async def subscriber(ready: asyncio.Event, want: int) -> None:
        async with ws_session(live_url, {"Authorization": viewer}, WAIT) as ws:
            variables = {"severity": "WARNING", "deviceId": str(pump)}
            await subscribe(ws, "1", CHANGED, variables)
            ready.set()
            while len(received) < want:
                message = await next_message(ws, WAIT)
                received.append(message["payload"]["data"]["alertChanged"])

    async def scenario() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(subscriber(ready, 4))
        await ready.wait()
        fanout: Any = api_system.fanout
        deadline = time.monotonic() + WAIT
        while fanout.subscriber_count(tenant, "alert") < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.to_thread(send, api_system, tenant, pump, 70, 85, 91)
        await asyncio.to_thread(send, api_system, tenant, valve, 99)  # not a pump
        await asyncio.to_thread(send, api_system, other, other_pump, 99)  # another tenant's
        alert_id = await asyncio.to_thread(_open_alert_id, client, viewer)
        acked = await asyncio.to_thread(
            partial(
                client.post,
                f"/alerts/{alert_id}/acknowledge",
                json={"note": "on my way"},
                headers={"Authorization": operator},
            )
        )
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged"
        assert acked.json()["acknowledgedBy"].startswith("user:")
        resolve = partial(call, RESOLVE, operator, input={"id": alert_id, "note": "valve replaced"})
        resolved = data(await asyncio.to_thread(resolve))
        assert resolved["resolveAlert"]["state"] == "RESOLVED"
        await asyncio.wait_for(task, WAIT)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [(r["transition"], r["alert"]["state"], r["alert"]["count"]) for r in received] == [
        ("RAISED", "OPEN", 1), ("REPEATED", "OPEN", 2), ("ACKNOWLEDGED", "ACKNOWLEDGED", 2),
        ("RESOLVED", "RESOLVED", 2),
    ]  # fmt: skip
    assert all(r["alert"]["deviceId"] == str(pump) for r in received)
    alert_id = received[0]["alert"]["id"]

    # The alert and its timeline, over GraphQL and REST.
    shown = client.get(f"/alerts/{alert_id}", headers={"Authorization": viewer}).json()
    assert [(e["transition"], e["actor"].split(":")[0]) for e in shown["timeline"]] == [
        ("raised", "system"), ("repeated", "system"), ("acknowledged", "user"),
        ("resolved", "user"),
    ]  # fmt: skip
    assert (shown["count"], shown["peakValue"], shown["resolveNote"]) == (2, 91.0, "valve replaced")
    timeline = data(call(TIMELINE, viewer, filter={"deviceId": str(pump)}, order="OLDEST_FIRST"))
    nodes = [e["node"] for e in timeline["alertTimeline"]["edges"]]
    assert [(n["transition"], n["stateAfter"], n["note"]) for n in nodes] == [
        ("RAISED", "OPEN", None), ("REPEATED", "OPEN", None),
        ("ACKNOWLEDGED", "ACKNOWLEDGED", "on my way"),
        ("RESOLVED", "RESOLVED", "valve replaced"),
    ]  # fmt: skip
    one = data(call(ONE_ALERT, viewer, id=alert_id))["alert"]
    assert (one["state"], one["rule"]["name"], one["ruleName"]) == (
        "RESOLVED",
        "Pump too hot",
        "Pump too hot",
    )
    assert [t["transition"] for t in one["timeline"]] == [
        "RAISED",
        "REPEATED",
        "ACKNOWLEDGED",
        "RESOLVED",
    ]
    assert (one["resolution"], one["acknowledgeNote"], one["count"]) == ("MANUAL", "on my way", 2)
    assert data(call(ONE_ALERT, stranger, id=alert_id))["alert"] is None
    first = data(call(TIMELINE, viewer, first=1))["alertTimeline"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(call(TIMELINE, viewer, after=first["pageInfo"]["endCursor"]))["alertTimeline"]
    assert len(rest["edges"]) == 3
    resolved_only = client.get(
        "/alerts", params={"state": "resolved"}, headers={"Authorization": viewer}
    )
    assert [a["id"] for a in resolved_only.json()["items"]] == [alert_id]
    assert (
        client.get("/alerts", params={"state": "open"}, headers={"Authorization": viewer}).json()[
            "items"
        ]
        == []
    )
    bad = client.get("/alerts", params={"severity": "loud"}, headers={"Authorization": viewer})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "severity")
    assert error(call(ALERTS, viewer, after="nonsense"))["field"] == "after"

    # Errors: twice, a viewer, another tenant.
    again = client.post(f"/alerts/{alert_id}/resolve", headers={"Authorization": operator})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "ALERT_RESOLVED")
    assert (
        client.post(
            f"/alerts/{alert_id}/acknowledge", headers={"Authorization": viewer}
        ).status_code
        == 403
    )
    assert error(call(ACK, stranger, input={"id": alert_id}))["code"] == "NOT_FOUND"
    assert client.get(f"/alerts/{alert_id}", headers={"Authorization": stranger}).status_code == 404
    theirs = data(call(ALERTS, stranger))["alerts"]["edges"]
    assert [e["node"]["deviceName"] for e in theirs] == ["pump-1"]  # their own pump only
    assert (
        data(call(TIMELINE, stranger, filter={"alertId": alert_id}))["alertTimeline"]["edges"] == []
    )
    assert data(call(ALERTS, viewer, filter={"deviceId": str(valve)}))["alerts"]["edges"] == []
    client.close()


def _open_alert_id(client: httpx.Client, token: str) -> str:
    def found() -> str | None:
        items = client.get(
            "/alerts", params={"state": "open"}, headers={"Authorization": token}
        ).json()["items"]
        return items[0]["id"] if items and items[0]["count"] == 2 else None

    result: str = eventually(found)
    return result
