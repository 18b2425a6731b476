"""Times that cannot be expressed in UTC are typed input errors everywhere, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.conftest import Tokens, new_tenant

EDGES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00")


def test_out_of_range_times_are_bad_input(api_client: TestClient, tokens: Tokens) -> None:
    tenant = new_tenant()
    admin = tokens(tenant, "admin")
    device = api_client.post(
        "/devices", json={"name": "p", "deviceType": "pump"}, headers={"Authorization": admin}
    ).json()["id"]
    for edge in EDGES:
        history = api_client.get(
            f"/devices/{device}/history",
            params={"metric": "temp", "from": edge, "to": "2026-01-01T00:00:00Z"},
            headers={"Authorization": admin},
        )
        assert history.status_code == 422, history.text
        assert history.json()["error"]["field"] == "from"
        timeline = api_client.get(
            "/alert-timeline", params={"from": edge}, headers={"Authorization": admin}
        )
        assert timeline.status_code == 422, timeline.text
        body = api_client.post(
            "/graphql",
            json={
                "query": "query($f: AlertFilter) { alerts(filter: $f) { edges { cursor } } }",
                "variables": {"f": {"raisedFrom": edge}},
            },
            headers={"Authorization": admin},
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert body["errors"][0]["extensions"]["field"] == "raisedFrom"
