"""REST `/users/me*` through the real app on SQLite: profile created on first use, preferences,
push tokens, optimistic concurrency, validation errors by field, tenants and auth."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import issue_token
from fleetwatch.settings import Settings
from tests.e2e.conftest import new_tenant


@pytest.fixture
def client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as test_client:
        yield test_client


@pytest.fixture
def me(api_settings: Settings) -> dict[str, str]:
    """Headers of one caller (fixed subject) in a fresh tenant."""
    return bearer(api_settings, "alice", new_tenant(), "viewer")


def bearer(settings: Settings, subject: str, tenant: str, *roles: str) -> dict[str, str]:
    token = issue_token(settings, subject, tenant, roles, 600)
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    detail: dict[str, Any] = response.json()["error"]
    return detail


def test_me_before_any_change_is_built_from_the_token(
    client: TestClient, me: dict[str, str]
) -> None:
    response = client.get("/users/me", headers=me)
    body = ok(response)
    assert response.headers["ETag"] == '"0"'
    assert body["subject"] == "alice"
    assert body["roles"] == ["viewer"]
    assert body["version"] == 0
    assert (body["timeZone"], body["locale"], body["email"]) == ("UTC", "en", None)
    assert body["preferences"] == {
        "info": [],
        "warning": ["email"],
        "critical": ["email", "push"],
        "quietHours": None,
        "criticalOverridesQuietHours": True,
    }
    assert body["pushTokens"] == []


def test_put_me_creates_then_updates_only_the_fields_sent(
    client: TestClient, me: dict[str, str]
) -> None:
    created = client.put(
        "/users/me",
        json={
            "email": "alice@example.com",
            "displayName": "Alice",
            "phone": "+4915112345678",
            "timeZone": "Europe/Berlin",
        },
        headers=me,
    )
    body = ok(created)
    assert body["version"] == 2  # ProfileCreated + ProfileUpdated
    assert created.headers["ETag"] == '"2"'
    assert (body["email"], body["phone"], body["timeZone"]) == (
        "alice@example.com",
        "+4915112345678",
        "Europe/Berlin",
    )
    cleared = ok(client.put("/users/me", json={"phone": None, "locale": "de-DE"}, headers=me))
    assert (cleared["phone"], cleared["locale"], cleared["email"]) == (
        None,
        "de-DE",
        "alice@example.com",
    )
    assert ok(client.get("/users/me", headers=me)) == cleared
    unchanged = ok(client.put("/users/me", json={"locale": "de-DE"}, headers=me))
    assert unchanged["version"] == cleared["version"]


def test_if_match_guards_changes(client: TestClient, me: dict[str, str]) -> None:
    first = client.put("/users/me", json={"displayName": "A"}, headers=me | {"If-Match": '"0"'})
    assert ok(first)["version"] == 2
    stale = client.put("/users/me", json={"displayName": "B"}, headers=me | {"If-Match": '"1"'})
    assert problem(stale, 409)["code"] == "CONFLICT"
    stale = client.put("/users/me/preferences", json={"expectedVersion": 5}, headers=me)
    assert problem(stale, 409)["code"] == "CONFLICT"
    fresh = client.put("/users/me", json={"displayName": "B"}, headers=me | {"If-Match": '"2"'})
    assert ok(fresh)["displayName"] == "B"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "0170 1234567"}, "phone"),
        ({"email": "nope"}, "email"),
        ({"timeZone": "Mars/Olympus_Mons"}, "timeZone"),
        ({"timeZone": None}, "timeZone"),
        ({"shoeSize": 44}, "shoeSize"),
    ],
)
def test_bad_profile_input_names_the_field(
    client: TestClient, me: dict[str, str], body: dict[str, Any], field: str
) -> None:
    error = problem(client.put("/users/me", json=body, headers=me), 422)
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field)
    assert ok(client.get("/users/me", headers=me))["version"] == 0  # nothing stored


def test_preferences_are_set_whole(client: TestClient, me: dict[str, str]) -> None:
    body = {
        "info": [],
        "warning": ["push"],
        "critical": ["sms", "email", "sms"],
        "quietHours": {"start": "22:00", "end": "07:00", "days": [4, 5]},
        "criticalOverridesQuietHours": False,
    }
    saved = ok(client.put("/users/me/preferences", json=body, headers=me))
    assert saved["preferences"] == {
        "info": [],
        "warning": ["push"],
        "critical": ["sms", "email"],
        "quietHours": {"start": "22:00", "end": "07:00", "days": [4, 5]},
        "criticalOverridesQuietHours": False,
    }
    reset = ok(client.put("/users/me/preferences", json={"critical": ["email"]}, headers=me))
    assert reset["preferences"]["quietHours"] is None
    assert reset["preferences"]["criticalOverridesQuietHours"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"info": ["fax"]}, "info"),
        ({"quietHours": {"start": "07:00", "end": "07:00"}}, "quietHours"),
        # Nested fields are named as GraphQL names them (one error path: `api.inputs`).
        ({"quietHours": {"start": "25:00", "end": "07:00"}}, "quietHours.start"),
        ({"quietHours": {"start": "22:00", "end": "07:00", "days": [9]}}, "quietHours.days"),
        ({"quietHours": {"start": "22:00", "end": "07:00", "snooze": 1}}, "quietHours.snooze"),
    ],
)
def test_bad_preferences_name_the_field(
    client: TestClient, me: dict[str, str], body: dict[str, Any], field: str
) -> None:
    error = problem(client.put("/users/me/preferences", json=body, headers=me), 422)
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field)
    assert error["message"].startswith(f"{field}: ")
    assert ok(client.get("/users/me", headers=me))["version"] == 0  # nothing stored


def test_push_tokens_register_list_and_remove(client: TestClient, me: dict[str, str]) -> None:
    token = f"fcm-{uuid.uuid4().hex}"
    created = client.post(
        "/users/me/device-tokens", json={"token": token, "platform": "android"}, headers=me
    )
    registered = ok(created, 201)
    assert len(registered["id"]) == 16
    assert created.headers["Location"] == f"/users/me/device-tokens/{registered['id']}"
    again = client.post(
        "/users/me/device-tokens", json={"token": token, "platform": "android"}, headers=me
    )
    assert ok(again, 201)["id"] == registered["id"]
    listed = ok(client.get("/users/me", headers=me))["pushTokens"]
    assert listed == [registered]  # the token value itself is never shown again
    assert token not in client.get("/users/me", headers=me).text

    path = f"/users/me/device-tokens/{registered['id']}"
    assert client.delete(path, headers=me).status_code == 204
    assert ok(client.get("/users/me", headers=me))["pushTokens"] == []
    assert problem(client.delete(path, headers=me), 404)["code"] == "NOT_FOUND"
    assert problem(client.delete("/users/me/device-tokens/XYZ", headers=me), 422)["field"] == (
        "tokenId"
    )
    bad = client.post(
        "/users/me/device-tokens", json={"token": "t", "platform": "palm"}, headers=me
    )
    assert problem(bad, 422)["field"] == "platform"


def test_another_tenant_never_sees_my_profile(
    client: TestClient, api_settings: Settings, me: dict[str, str]
) -> None:
    ok(client.put("/users/me", json={"displayName": "Alice of tenant A"}, headers=me))
    same_subject_elsewhere = bearer(api_settings, "alice", new_tenant(), "viewer")
    theirs = ok(client.get("/users/me", headers=same_subject_elsewhere))
    assert (theirs["version"], theirs["displayName"]) == (0, None)
    assert theirs["id"] != ok(client.get("/users/me", headers=me))["id"]


def test_authentication_and_roles(client: TestClient, api_settings: Settings) -> None:
    assert problem(client.get("/users/me"), 401)["code"] == "UNAUTHENTICATED"
    nobody = bearer(api_settings, "mallory", new_tenant())  # no known role
    assert problem(client.get("/users/me", headers=nobody), 403)["code"] == "FORBIDDEN"
    for role in ("viewer", "operator", "admin"):
        headers = bearer(api_settings, f"u-{role}", new_tenant(), role)
        assert ok(client.put("/users/me", json={"locale": "fr"}, headers=headers))["locale"] == "fr"
    # The auditor reads its profile and changes nothing, its own profile included (audit 19.3).
    auditor = bearer(api_settings, "u-auditor", new_tenant(), "auditor")
    assert ok(client.get("/users/me", headers=auditor))["subject"] == "u-auditor"
    refused = client.put("/users/me", json={"locale": "fr"}, headers=auditor)
    assert problem(refused, 403)["code"] == "FORBIDDEN"


def test_delete_me_erases_my_personal_data(client: TestClient, api_settings: Settings) -> None:
    """`DELETE /users/me` (the owner) and `DELETE /users/{id}/personal-data` (an admin):
    docs/audit.md 19.7."""
    tenant = new_tenant()
    me = bearer(api_settings, "alice", tenant, "viewer")
    assert problem(client.delete("/users/me", headers=me), 404)["code"] == "NOT_FOUND"
    ok(
        client.put(
            "/users/me", json={"email": "a@example.com", "phone": "+4915112345678"}, headers=me
        )
    )
    ok(
        client.post(
            "/users/me/device-tokens", json={"token": "t-1", "platform": "web"}, headers=me
        ),
        201,
    )
    erased = ok(client.delete("/users/me", headers=me))
    body = ok(client.get("/users/me", headers=me))
    assert (erased["userId"], erased["version"]) == (body["id"], body["version"])
    assert (body["email"], body["phone"], body["pushTokens"]) == (None, None, [])

    admin = bearer(api_settings, "root", tenant, "admin")
    path = f"/users/{body['id']}/personal-data"
    assert problem(client.delete(path, headers=me), 403)["code"] == "FORBIDDEN"
    assert ok(client.delete(path, headers=admin))["version"] == body["version"]  # nothing new
    unknown = client.delete(f"/users/{uuid.uuid4()}/personal-data", headers=admin)
    assert problem(unknown, 404)["code"] == "NOT_FOUND"
    assert client.delete("/users/not-a-uuid/personal-data", headers=admin).status_code == 422
