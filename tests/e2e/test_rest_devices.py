"""REST devices through the real app on SQLite: the seed's endpoints, ETag/If-Match, tenants,
the error shape (FastAPI's own validation errors included) and the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def create(client: TestClient, token: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "meter", "deviceType": "meter.v1"} | fields
    response = client.post("/devices", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    device: dict[str, Any] = response.json()
    return device


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    detail: dict[str, Any] = body["error"]
    assert set(detail) <= {"code", "message", "field"}
    return detail


def test_register_show_list_update_decommission(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "operator")
    response = api_client.post(
        "/devices",
        json={"name": "Meter 1", "deviceType": "meter.v1", "tags": ["b1"], "metadata": {"a": "1"}},
        headers=auth(token),
    )
    assert response.status_code == 201
    device = response.json()
    assert response.headers["Location"] == f"/devices/{device['id']}"
    assert response.headers["ETag"] == '"1"'
    assert {k: device[k] for k in ("name", "deviceType", "tags", "metadata", "lifecycle")} == {
        "name": "Meter 1",
        "deviceType": "meter.v1",
        "tags": ["b1"],
        "metadata": {"a": "1"},
        "lifecycle": "active",
    }

    shown = api_client.get(f"/devices/{device['id']}", headers=auth(token))
    assert shown.status_code == 200
    assert shown.json() == device  # read your writes, no sleep

    updated = api_client.put(
        f"/devices/{device['id']}",
        json={"name": "Meter 1b"},
        headers=auth(token) | {"If-Match": '"1"'},
    )
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["version"]) == ("Meter 1b", 2)
    assert updated.headers["ETag"] == '"2"'

    stale = api_client.put(
        f"/devices/{device['id']}", json={"name": "late", "expectedVersion": 1}, headers=auth(token)
    )
    assert problem(stale, 409)["code"] == "CONFLICT"

    deleted = api_client.delete(
        f"/devices/{device['id']}", params={"reason": "replaced"}, headers=auth(token)
    )
    assert deleted.status_code == 200
    assert (deleted.json()["lifecycle"], deleted.json()["decommissionReason"]) == (
        "decommissioned",
        "replaced",
    )
    again = api_client.delete(f"/devices/{device['id']}", headers=auth(token))
    assert problem(again, 409)["code"] == "ALREADY_DECOMMISSIONED"

    listed = api_client.get("/devices", params={"lifecycle": "decommissioned"}, headers=auth(token))
    assert [d["id"] for d in listed.json()["items"]] == [device["id"]]
    assert (
        api_client.get("/devices", params={"lifecycle": "active"}, headers=auth(token)).json()[
            "items"
        ]
        == []
    )


def test_list_filters_and_pages(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "operator")
    made = [
        create(api_client, token, name=f"unit {i}", deviceType=kind, tags=[tag])
        for i, (kind, tag) in enumerate([("cam", "gate"), ("cam", "yard"), ("lock", "gate")])
    ]

    def names(**params: Any) -> list[str]:
        response = api_client.get("/devices", params=params, headers=auth(token))
        assert response.status_code == 200, response.text
        return sorted(d["name"] for d in response.json()["items"])

    assert names(deviceType="cam") == ["unit 0", "unit 1"]
    assert names(tag="gate") == ["unit 0", "unit 2"]
    assert names(nameContains="IT 1") == ["unit 1"]
    first = api_client.get("/devices", params={"first": 2}, headers=auth(token)).json()
    assert len(first["items"]) == 2
    assert first["nextCursor"]
    rest = api_client.get(
        "/devices", params={"first": 2, "after": first["nextCursor"]}, headers=auth(token)
    ).json()
    assert rest["nextCursor"] is None
    assert sorted(d["id"] for d in first["items"] + rest["items"]) == sorted(d["id"] for d in made)


def test_a_tenant_sees_nothing_of_another(api_client: TestClient, tokens: Tokens) -> None:
    token_a, token_b = tokens(new_tenant(), "admin"), tokens(new_tenant(), "admin")
    device = create(api_client, token_a)
    path = f"/devices/{device['id']}"
    assert problem(api_client.get(path, headers=auth(token_b)), 404)["code"] == "NOT_FOUND"
    assert api_client.get("/devices", headers=auth(token_b)).json()["items"] == []
    assert problem(api_client.put(path, json={"name": "x"}, headers=auth(token_b)), 404)
    assert problem(api_client.delete(path, headers=auth(token_b)), 404)
    assert api_client.get(path, headers=auth(token_a)).json()["version"] == 1


def test_concurrent_updates_with_one_if_match_let_exactly_one_win(
    api_app: FastAPI, api_system: System, tokens: Tokens
) -> None:
    token = tokens(new_tenant(), "operator")

    async def scenario() -> tuple[str, list[httpx.Response]]:
        transport = httpx.ASGITransport(app=api_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            created = await client.post(
                "/devices", json={"name": "v", "deviceType": "valve"}, headers=auth(token)
            )
            device_id = str(created.json()["id"])
            responses = await asyncio.gather(
                *(
                    client.put(
                        f"/devices/{device_id}",
                        json={"name": name},
                        headers=auth(token) | {"If-Match": '"1"'},
                    )
                    for name in ("left", "right")
                )
            )
            return device_id, list(responses)

    device_id, responses = asyncio.run(scenario())
    assert sorted(r.status_code for r in responses) == [200, 409]
    (lost,) = [r for r in responses if r.status_code == 409]
    assert problem(lost, 409)["code"] == "CONFLICT"
    stream = api_system.event_log.read_stream(UUID(device_id))
    assert [e.type for e in stream] == ["Device.Registered", "Device.Updated"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "deviceType": "x"}, "name"),
        ({"name": "ok"}, "deviceType"),
        ({"name": "ok", "deviceType": "has space"}, "deviceType"),
        ({"name": "ok", "deviceType": "x", "metadata": {"k": "v" * 1025}}, "metadata"),
        ({"name": "ok", "deviceType": "x", "metadata": {"bad key": "v"}}, "metadata"),
        ({"name": "ok", "deviceType": "x", "metadata": {"k": 1}}, "metadata"),
        ({"name": "ok", "deviceType": "x", "tags": "not-a-list"}, "tags"),
        ({"name": "ok", "deviceType": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    api_client: TestClient,
    api_system: System,
    tokens: Tokens,
    body: dict[str, Any],
    field: str,
) -> None:
    head = api_system.event_log.head()
    response = api_client.post("/devices", json=body, headers=auth(tokens(new_tenant(), "admin")))
    detail = problem(response, 422)
    assert (detail["code"], detail["field"]) == ("BAD_USER_INPUT", field)
    assert api_system.event_log.head() == head


def test_other_bad_requests(api_client: TestClient, api_system: System, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "admin")
    device = create(api_client, token)
    head = api_system.event_log.head()
    not_json = api_client.post(
        "/devices", content=b"{nope", headers=auth(token) | {"Content-Type": "application/json"}
    )
    assert problem(not_json, 400)["code"] == "BAD_REQUEST"
    cases = [
        (api_client.get("/devices/not-a-uuid", headers=auth(token)), "deviceId"),
        (api_client.get("/devices", params={"first": 0}, headers=auth(token)), "first"),
        (
            api_client.get("/devices", params={"lifecycle": "zombie"}, headers=auth(token)),
            "lifecycle",
        ),
        (api_client.get("/devices", params={"after": "!!"}, headers=auth(token)), "after"),
        (
            api_client.put(
                f"/devices/{device['id']}",
                json={"name": "x"},
                headers=auth(token) | {"If-Match": "yesterday"},
            ),
            "If-Match",
        ),
        (
            api_client.put(
                f"/devices/{device['id']}",
                json={"name": "x", "expectedVersion": 2},
                headers=auth(token) | {"If-Match": '"1"'},
            ),
            "expectedVersion",
        ),
    ]
    for response, field in cases:
        detail = problem(response, 422)
        assert (detail["code"], detail["field"]) == ("BAD_USER_INPUT", field)
    assert api_system.event_log.head() == head
    assert problem(api_client.get("/nowhere"), 404)["code"] == "NOT_FOUND"


def test_authentication_and_roles(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    device = create(api_client, tokens(tenant, "operator"))
    head = api_system.event_log.head()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = api_client.get("/devices", headers=headers)
        assert problem(response, 401)["code"] == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    expired = api_client.get("/devices", headers=auth(tokens(tenant, "admin", ttl=-300)))
    assert "expired" in problem(expired, 401)["message"]

    viewer = tokens(tenant, "viewer")
    assert api_client.get(f"/devices/{device['id']}", headers=auth(viewer)).status_code == 200
    for response in (
        api_client.post("/devices", json={"name": "x", "deviceType": "y"}, headers=auth(viewer)),
        api_client.put(f"/devices/{device['id']}", json={"name": "x"}, headers=auth(viewer)),
        api_client.delete(f"/devices/{device['id']}", headers=auth(viewer)),
    ):
        assert problem(response, 403)["code"] == "FORBIDDEN"
    assert api_system.event_log.head() == head


class ExplodingReader:
    def get(self, *args: object) -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    list = get


def test_an_unexpected_failure_is_a_masked_500(
    api_app: FastAPI,
    api_system: System,
    tokens: Tokens,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api_system.devices = ExplodingReader()  # type: ignore[assignment]
    with (
        TestClient(api_app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR),
    ):
        response = client.get("/devices", headers=auth(tokens(new_tenant(), "viewer")))
    detail = problem(response, 500)
    assert detail == {"code": "INTERNAL_SERVER_ERROR", "message": "Internal server error"}
    assert "hunter2" not in response.text
    assert any("hunter2" in str(r.exc_info and r.exc_info[1]) for r in caplog.records)


def test_health_needs_no_token(api_client: TestClient, tokens: Tokens) -> None:
    create(api_client, tokens(new_tenant(), "admin"))
    body = api_client.get("/health").json()
    assert body["status"] == "ok"
    assert (body["store"], body["fanout"]) == ("sqlite", "in-process")
    assert body["feedHead"] >= 1
    assert body["projections"]["device_status"]["lag"] == 0


def test_the_openapi_document_describes_the_api(api_client: TestClient) -> None:
    doc = api_client.get("/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/devices"]) == {"get", "post"}
    assert set(paths["/devices/{deviceId}"]) == {"get", "put", "delete"}
    assert "/health" in paths
    schemas = doc["components"]["schemas"]
    assert set(schemas["DeviceCreate"]["properties"]) == {"name", "deviceType", "tags", "metadata"}
    assert "expectedVersion" in schemas["DeviceUpdate"]["properties"]
    assert "registeredAt" in schemas["DevicePublic"]["properties"]
    post = paths["/devices"]["post"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DevicePublic"
    )
    for status in ("401", "403", "422"):
        assert post["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorBody"
        )
    assert "409" in paths["/devices/{deviceId}"]["put"]["responses"]
    params = {p["name"] for p in paths["/devices"]["get"]["parameters"]}
    assert {"lifecycle", "deviceType", "tag", "nameContains", "first", "after"} <= params
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
