"""Exports through the real app (docs/analytics.md 20.5; SQLite, the Parquet writer flushing
every 0.1 s): `POST /analytics/export` answers 202 with the id; an `exportProgress` subscriber
sees each chunk's progress, then the completion; `GET /analytics/exports/{id}` shows the link,
whose file is downloaded without a token; GraphQL's `requestExport` and `export` are the same
operations; bad input (another tenant's device, a range over budget, a viewer) is refused and
stores nothing."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fleetwatch.bootstrap import System
from fleetwatch.settings import Settings
from projections.exports import ExportBudgets
from tests.e2e.conftest import TEST_SECRET, Tokens, new_tenant
from tests.e2e.graphql_client import (
    HTTP_TIMEOUT,
    WAIT,
    fanout_of,
    next_message,
    run,
    subscribe,
    until,
    ws_session,
)
from tests.e2e.test_rest_devices import auth, create, problem
from tests.e2e.test_telemetry_api import gql, record

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PROGRESS = """subscription($id: ID!) { exportProgress(exportId: $id) {
  exportId eventType status rows bytes reason } }"""
REQUEST = """mutation($input: RequestExportInput!) { requestExport(input: $input) {
  id kind format status rows link { url } } }"""
ONE = "query($id: ID!) { export(id: $id) { id status rows link { url expiresAt } } }"


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3", jwt_secret=TEST_SECRET,
        jwks_url=None, jwt_issuer=None, jwt_audience=None, redis_url=None,
        analytics_flush_seconds=0.1, blob_dir=tmp_path / "blobs",
    )  # fmt: skip


def body(devices: list[str], **changes: Any) -> dict[str, Any]:
    given = {"kind": "telemetry", "format": "csv", "from": T0.isoformat(),
             "to": (T0 + timedelta(days=1)).isoformat(), "deviceIds": devices}  # fmt: skip
    return given | changes


def exports_stored(system: System) -> int:
    return sum(
        1 for n in system.app.recorder.select_notifications(start=1, limit=10_000)
        if n.topic.startswith("write_side.exports:")
    )  # fmt: skip


def test_export_over_rest_and_graphql_with_progress(
    api_client: TestClient, api_system: System, live_url: str, tokens: Tokens
) -> None:
    assert api_system.exports is not None
    api_system.workers["exporter"].stop()  # this test runs the job itself, once subscribed
    exporter = api_system.exports.exporter
    exporter.budgets = ExportBudgets(chunk_rows=25)
    tenant = new_tenant()
    operator, auditor, viewer = (tokens(tenant, r) for r in ("operator", "auditor", "viewer"))
    devices = [create(api_client, operator)["id"] for _ in range(2)]
    for device in devices:
        messages = [(f"m{i}", T0 + timedelta(minutes=i), {"temp": float(i)}) for i in range(30)]
        position = record(api_system, tenant, device, messages)
    deadline = time.monotonic() + 10
    while api_system.workers["parquet"].checkpoint() < position:
        assert time.monotonic() < deadline, "the Parquet writer did not flush"
        time.sleep(0.05)

    # Bad input: nothing stored.
    stranger = str(create(api_client, tokens(new_tenant(), "operator"))["id"])
    post = api_client.post
    refused = problem(post("/analytics/export", json=body([stranger]), headers=auth(auditor)), 404)
    assert refused["code"] == "NOT_FOUND"
    long = body(devices, to=(T0 + timedelta(days=93)).isoformat())
    too_long = problem(post("/analytics/export", json=long, headers=auth(auditor)), 422)
    assert too_long["field"] == "to"
    assert "max_range" in too_long["message"]
    assert post("/analytics/export", json=body(devices), headers=auth(viewer)).status_code == 403
    assert exports_stored(api_system) == 0

    seen: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=f"http://{live_url}", timeout=HTTP_TIMEOUT) as client:
            accepted = await client.post(
                "/analytics/export", json=body(devices), headers=auth(auditor)
            )
            assert accepted.status_code == 202, accepted.text
            export_id = accepted.json()["id"]
            assert accepted.headers["location"] == f"/analytics/exports/{export_id}"
            assert accepted.json()["status"] == "REQUESTED"
            async with ws_session(live_url, {"Authorization": operator}, WAIT) as ws:
                await subscribe(ws, "1", PROGRESS, {"id": export_id})
                await until(lambda: fanout_of(api_system).subscriber_count(tenant, "export") == 1)
                job = asyncio.create_task(
                    asyncio.to_thread(exporter.run, tenant, uuid.UUID(export_id))
                )
                while not seen or seen[-1]["status"] not in {"COMPLETED", "FAILED"}:
                    message = await next_message(ws, WAIT)
                    seen.append(message["payload"]["data"]["exportProgress"])
                await job

    run(scenario)
    assert [(p["status"], p["rows"]) for p in seen] == [
        ("RUNNING", 25), ("RUNNING", 50), ("RUNNING", 60), ("COMPLETED", 60)
    ]  # fmt: skip
    export_id = seen[-1]["exportId"]
    shown = api_client.get(f"/analytics/exports/{export_id}", headers=auth(auditor)).json()
    assert (shown["status"], shown["rows"], shown["kind"]) == ("COMPLETED", 60, "telemetry")
    assert shown["bytes"] > 0
    link = shown["link"]["url"]
    assert link.startswith("/firmware/blobs/")  # the local store's signed route
    downloaded = api_client.get(link)  # no token: the URL's signature
    assert downloaded.status_code == 200
    lines = downloaded.text.splitlines()
    assert lines[0] == "device_id,device_type,metric,ts,value,message_id,received_at"
    assert len(lines) == 61
    assert len(downloaded.content) == shown["bytes"]
    other = tokens(new_tenant(), "admin")
    assert api_client.get(f"/analytics/exports/{export_id}", headers=auth(other)).status_code == 404

    requested = gql(api_client, operator, REQUEST, input=body(devices[:1], format="PARQUET",
                                                              kind="EVENTS"))  # fmt: skip
    assert "errors" not in requested, requested
    made = requested["data"]["requestExport"]
    assert (made["kind"], made["format"], made["status"]) == ("EVENTS", "PARQUET", "REQUESTED")
    read = gql(api_client, operator, ONE, id=export_id)["data"]["export"]
    assert (read["status"], read["rows"]) == ("COMPLETED", 60)
    assert read["link"]["url"].startswith("/firmware/blobs/")
    foreign = gql(
        api_client, operator, REQUEST, input=body([stranger], kind="TELEMETRY", format="CSV")
    )
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert exports_stored(api_system) == 5 + 1  # REST's export: requested, 3 chunks, completed


LIST = """query($filter: ExportsFilter, $first: Int!, $after: String) {
  exports(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id kind status link { url } } } pageInfo { hasNextPage endCursor } } }"""


def test_the_tenants_exports_are_listed_newest_first_over_rest_and_graphql(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    """`GET /analytics/exports` and GraphQL `exports`: the tenant's own, newest first, paged
    and filtered, each completed one with its link; a bad cursor or status is refused by name,
    a viewer is refused, another tenant sees none."""
    tenant = new_tenant()
    operator, viewer = tokens(tenant, "operator"), tokens(tenant, "viewer")
    made = []
    for kind in ("events", "telemetry", "events"):
        accepted = api_client.post(
            "/analytics/export", json=body([], kind=kind), headers=auth(operator)
        )
        assert accepted.status_code == 202, accepted.text
        made.append(accepted.json()["id"])
    newest_first = made[::-1]

    def ended() -> bool:
        got = api_client.get("/analytics/exports?first=10", headers=auth(operator)).json()
        return [e["id"] for e in got["items"]] == newest_first and all(
            e["status"] == "COMPLETED" for e in got["items"]
        )

    run(lambda: until(ended, within=30))  # the exporter runs them, the model shows them
    first = api_client.get("/analytics/exports?first=2", headers=auth(operator)).json()
    assert [e["id"] for e in first["items"]] == newest_first[:2]
    assert all(e["link"]["url"].startswith("/firmware/blobs/") for e in first["items"])
    after = first["nextCursor"]
    rest = api_client.get(f"/analytics/exports?first=2&after={after}", headers=auth(operator))
    assert ([e["id"] for e in rest.json()["items"]], rest.json()["nextCursor"]) == (made[:1], None)
    telemetry = api_client.get("/analytics/exports?kind=telemetry", headers=auth(operator))
    assert [e["id"] for e in telemetry.json()["items"]] == [made[1]]

    listed = gql(api_client, operator, LIST, first=2, filter={"kind": "EVENTS"})["data"]
    edges = listed["exports"]["edges"]
    assert [e["node"]["id"] for e in edges] == [made[2], made[0]]
    assert listed["exports"]["pageInfo"]["hasNextPage"] is False

    bad = problem(api_client.get("/analytics/exports?after=nope", headers=auth(operator)), 422)
    assert bad["field"] == "after"
    assert (
        problem(api_client.get("/analytics/exports?status=DONE", headers=auth(operator)), 422)[
            "field"
        ]
        == "status"
    )
    refused = gql(api_client, operator, LIST, first=2, after="nope")
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert api_client.get("/analytics/exports", headers=auth(viewer)).status_code == 403
    other = tokens(new_tenant(), "operator")
    assert api_client.get("/analytics/exports", headers=auth(other)).json()["items"] == []
