"""The auditors' API (docs/audit.md 19.1-19.3): filtered history with its scan budget, any
entity as of a version or an instant, the auditor role that changes nothing, and the record of
every read of the trail, itself in the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import (
    alerts,
    analytics,
    as_of,
    audit,
    dashboard,
    deployments,
    devices,
    exports,
    firmware,
    firmware_upload,
    users,
)
from api.auth import ROLE_PERMISSIONS, issue_token
from api.operations import MUTATION
from fleetwatch.settings import Settings
from tests.e2e.conftest import Tokens
from tests.e2e.test_audit_api import gql, register

HISTORY = """
query ($kinds: [EntityKind!], $actor: String, $first: Int!) {
  events(kinds: $kinds, actor: $actor, first: $first) {
    edges { node { type actor streamId payload } }
    scanned budgetExhausted pageInfo { hasNextPage }
  }
}"""
AS_OF = """
query ($id: ID!, $version: Int, $at: DateTime) {
  deviceAsOf(id: $id, version: $version, at: $at) { version latestVersion aggregate state }
}"""
DEVICE_ROUTES = ("/ingest", "/jobs/")  # devices authenticate there with their tokens, not users
# POSTs that read, allowed to the auditor: the seed's query, and an export or a report
# (docs/analytics.md 20.4, 20.5), which changes no device, alert, rule, release or user: it
# records who exported what, as the record of reads does (19.3). The exports' and reports'
# e2e tests request them as an auditor.
READ_POSTS = ("/analytics/query", "/analytics/export", "/analytics/reports")
READ_MUTATIONS = {"request_export", "request_report"}


def test_the_auditor_changes_nothing(
    api_app: FastAPI, api_client: TestClient, tokens: Tokens
) -> None:
    auditor = {"Authorization": tokens("acme", "auditor")}
    writes = [  # every write route the OpenAPI document lists
        (method.upper(), path)
        for path, item in api_app.openapi()["paths"].items()
        if not any(part in path for part in DEVICE_ROUTES) and path not in READ_POSTS
        for method in item
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(writes) > 20
    for method, path in writes:
        url = path.replace("{kind}", "device")
        for name in ("deviceId", "ruleId", "alertId", "firmwareId", "deploymentId", "tokenId"):
            url = url.replace(f"{{{name}}}", str(uuid4()))
        response = api_client.request(method, url, json={}, headers=auditor)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "FORBIDDEN"
    tables = (
        devices, alerts, users, firmware, deployments, firmware_upload, audit, as_of, analytics,
        dashboard, exports,
    )  # fmt: skip
    mutations = [
        op for t in tables for op in t.OPERATIONS if op.graphql and op.graphql.kind == MUTATION
    ]
    introspect = "{ __schema { mutationType { fields { name } } } }"
    schema = gql(api_client, auditor["Authorization"], introspect)
    assert len(mutations) == len(schema["data"]["__schema"]["mutationType"]["fields"])  # all here
    granted = {op.name for op in mutations if op.permission in ROLE_PERMISSIONS["auditor"]}
    assert granted == READ_MUTATIONS
    denied = gql(
        api_client,
        auditor["Authorization"],
        'mutation { registerDevice(input: {name: "x", deviceType: "y"}) { id } }',
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for path in ("/devices", "/alerts", "/alert-rules", "/events", "/users/me", "/firmware"):
        assert api_client.get(path, headers=auditor).status_code == 200, path
    for path in ("/analytics/dashboard",):
        assert api_client.get(path, headers=auditor).status_code == 200, path


def test_history_filters_as_of_and_the_record_of_reads(
    api_client: TestClient, api_settings: Settings, tokens: Tokens
) -> None:
    operator = tokens("acme", "operator")
    before = datetime.now(UTC) - timedelta(seconds=1)
    device = register(api_client, operator, "pump")
    api_client.put(
        f"/devices/{device}", json={"name": "pump 2"}, headers={"Authorization": operator}
    )
    other = register(api_client, tokens("globex", "operator"), "theirs")
    auditor = "Bearer " + issue_token(api_settings, "carol", "acme", ["auditor"], 600)

    page = gql(api_client, auditor, HISTORY, kinds=["DEVICE"], first=1)["data"]["events"]
    assert [e["node"]["type"] for e in page["edges"]] == ["Device.Registered"]
    assert page["pageInfo"]["hasNextPage"]
    assert not page["budgetExhausted"]
    assert page["scanned"] >= 2
    rest = api_client.get("/events", params={"kinds": ["device"], "actor": "user:nobody"},
                          headers={"Authorization": auditor})  # fmt: skip
    assert rest.json()["items"] == []
    assert rest.json()["budgetExhausted"] is False
    none = gql(api_client, auditor, HISTORY, kinds=["RULE"], actor="user:nobody", first=5)
    assert none["data"]["events"]["edges"] == []

    old = gql(api_client, auditor, AS_OF, id=device, version=1)["data"]["deviceAsOf"]
    assert (old["version"], old["latestVersion"], old["aggregate"]) == (1, 2, "Device")
    assert old["state"]["name"] == "pump"
    assert old["state"]["tenant_id"] == "acme"
    early = gql(api_client, auditor, AS_OF, id=device, at=before.isoformat())
    assert early["errors"][0]["extensions"]["code"] == "NOT_YET_CREATED"
    theirs = api_client.get(
        f"/entities/device/{other}/as-of?version=1", headers={"Authorization": auditor}
    )
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "NOT_FOUND"
    now = api_client.get(f"/devices/{device}/as-of", params={"at": datetime.now(UTC).isoformat()},
                         headers={"Authorization": auditor})  # fmt: skip
    assert now.status_code == 200
    assert now.json()["state"]["name"] == "pump 2"
    bad = api_client.get(
        f"/entities/gadget/{device}/as-of?version=1", headers={"Authorization": auditor}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "kind"

    for params, field in (({"version": 0}, "version"), ({"version": 9}, "version"), ({}, "at")):
        wrong = api_client.get(f"/devices/{device}/as-of", params=params,
                               headers={"Authorization": auditor})  # fmt: skip
        assert wrong.status_code == 422, params
        assert wrong.json()["error"]["field"] == field, params

    reads = gql(api_client, auditor, HISTORY, kinds=["AUDIT"], first=50)["data"]["events"]["edges"]
    recorded = [e["node"] for e in reads]
    assert {r["type"] for r in recorded} == {"TrailRead.Recorded"}
    assert all(r["actor"] == "user:carol" for r in recorded)
    # The three history reads (GraphQL, REST, GraphQL) and the two successful as-of reads, in
    # order, with their criteria; the refused ones were not answered and are not recorded.
    operations = [r["payload"]["operation"] for r in recorded]
    assert operations == ["events"] * 3 + ["as_of"] * 2
    assert recorded[3]["payload"]["criteria"] == {"id": device, "version": 1}
