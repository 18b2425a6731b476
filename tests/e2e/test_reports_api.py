"""Fleet reports through the real app (docs/analytics.md 20.4; SQLite, every worker running):
devices of two tags report (the alerting manager raises an alert on one, an operator
acknowledges it), an auditor asks `POST /analytics/reports` for this month and tag `north`;
the exports worker writes the page; its link downloads without a token; Chromium opens it:
four charts drawn, nothing fetched, no console error, a hostile device name shown as text.
The CSV of the same report holds the same figures; GraphQL's `requestReport` is the same
operation; bad input (a month that is no month or has not begun, another tenant's device, a
viewer) is refused and stores nothing."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright

from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_alerts_api import REST_HOT, eventually, send
from tests.e2e.test_exports_api import api_settings as api_settings  # noqa: PLC0414 - SQLite
from tests.e2e.test_exports_api import exports_stored
from tests.e2e.test_rest_devices import auth, create, problem
from tests.e2e.test_telemetry_api import gql

HOSTILE = "<img src=x onerror=alert(1)> pump"
REQUEST = """mutation($input: RequestReportInput!) { requestReport(input: $input) {
  id kind format status tag } }"""


def finished(client: TestClient, token: str, accepted: httpx.Response) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    assert location == f"/analytics/exports/{accepted.json()['id']}"

    def done() -> dict[str, Any] | None:
        shown: dict[str, Any] = client.get(location, headers=auth(token)).json()
        return shown if shown["status"] in {"COMPLETED", "FAILED"} else None

    shown: dict[str, Any] = eventually(done)
    assert shown["status"] == "COMPLETED", shown
    return shown


def test_a_months_fleet_report_as_a_page_and_as_csv(
    api_client: TestClient, api_system: System, tokens: Tokens, chromium: str, tmp_path: Path
) -> None:
    tenant = new_tenant()
    admin, operator, auditor, viewer = (
        tokens(tenant, r) for r in ("admin", "operator", "auditor", "viewer")
    )
    rule = api_client.post("/alert-rules", json=REST_HOT, headers=auth(admin))
    assert rule.status_code == 201, rule.text
    north = [create(api_client, operator, name=name, deviceType="pump", tags=["north"])["id"]
             for name in ("north pump", HOSTILE)]  # fmt: skip
    south = create(api_client, operator, name="south pump", deviceType="pump", tags=["south"])
    send(api_system, tenant, uuid.UUID(north[0]), 70, 85)  # online, and too hot
    send(api_system, tenant, uuid.UUID(south["id"]), 90)  # another tag: not in the report

    def open_alert() -> str | None:
        items = api_client.get("/alerts", params={"state": "open"}, headers=auth(viewer)).json()
        mine = [a for a in items["items"] if a["deviceId"] == north[0]]
        return mine[0]["id"] if mine else None

    alert_id = eventually(open_alert)
    acked = api_client.post(f"/alerts/{alert_id}/acknowledge", json={}, headers=auth(operator))
    assert acked.status_code == 200, acked.text
    assert api_system.wait_for(api_system.app.recorder.max_notification_id() or 0, 10)

    # Bad input: nothing stored.
    month = f"{datetime.now(UTC):%Y-%m}"
    post = api_client.post
    for wrong, field in (({"month": "2026-13"}, "month"), ({"month": "2999-01"}, "month"),
                         ({"month": month, "format": "pdf"}, "format")):  # fmt: skip
        refused = problem(post("/analytics/reports", json=wrong, headers=auth(auditor)), 422)
        assert refused["field"] == field, refused
    theirs = create(api_client, tokens(new_tenant(), "operator"))["id"]
    stranger = {"month": month, "deviceIds": [theirs]}
    assert problem(post("/analytics/reports", json=stranger, headers=auth(auditor)), 404)
    assert (
        post("/analytics/reports", json={"month": month}, headers=auth(viewer)).status_code == 403
    )
    assert exports_stored(api_system) == 0

    # The page: made by the worker, downloaded by its link, opened in Chromium.
    wanted = {"month": month, "tag": "north"}
    page = finished(
        api_client, auditor, post("/analytics/reports", json=wanted, headers=auth(auditor))
    )
    assert (page["kind"], page["format"], page["tag"]) == ("report", "html", "north")
    html = api_client.get(page["link"]["url"])  # no token: the URL's signature
    assert html.status_code == 200
    assert len(html.content) == page["bytes"]
    file = tmp_path / "report.html"
    file.write_bytes(html.content)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        tab = browser.new_page(viewport={"width": 1000, "height": 800})
        errors: list[str] = []
        requests: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(file.as_uri())
        charts = tab.eval_on_selector_all(
            "svg[data-chart]",
            "svgs => svgs.map(s => [s.dataset.chart, s.getBoundingClientRect().height,"
            " Math.max(0, ...[...s.querySelectorAll('rect')].map(r => r.getBBox().width))])",
        )
        cells = tab.eval_on_selector_all("table td", "tds => tds.map(td => td.textContent)")
        images = tab.eval_on_selector_all("img", "imgs => imgs.length")
        title = tab.title()
        tab.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert requests == [file.as_uri()]  # nothing else fetched
    assert {name for name, _, _ in charts} == {"uptime", "alerts", "response", "firmware"}
    assert all(height > 20 and widest > 0 for _, height, widest in charts), charts
    assert HOSTILE in cells  # shown as text: no element made of it
    assert images == 0
    assert "south pump" not in cells
    assert "Pump too hot" in cells
    assert title == f"Fleet report: {tenant}, tag north"

    # The same report's rows as CSV; over GraphQL too.
    wanted |= {"format": "csv"}
    rows = finished(
        api_client, operator, post("/analytics/reports", json=wanted, headers=auth(operator))
    )
    text = api_client.get(rows["link"]["url"]).text
    table = list(csv.DictReader(io.StringIO(text)))
    summary = {r["metric"]: float(r["value"]) for r in table if r["section"] == "summary"}
    assert (summary["devices"], summary["alerts_raised"], summary["acknowledged"]) == (2, 1, 1)
    assert summary["outages"] == 0
    assert 0 < summary["uptime_pct"] < 100  # one of the two reported, since just now
    rules = {r["subject"] for r in table if r["section"] == "rule"}
    assert rules == {"Pump too hot"}
    devices = {r["subject"] for r in table if r["section"] == "device"}
    assert devices == {"north pump", HOSTILE}
    asked = gql(api_client, auditor, REQUEST, input={"month": month, "tag": "north"})
    assert "errors" not in asked, asked
    assert asked["data"]["requestReport"]["kind"] == "REPORT"
    assert asked["data"]["requestReport"]["format"] == "HTML"
