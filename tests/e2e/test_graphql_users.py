"""GraphQL users slice over HTTP, through the real app on SQLite: `me` from the users read
model, profile / preferences / push-token mutations with read-your-writes, optimistic
concurrency, error codes with input fields, tenants and roles."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_token
from fleetwatch.settings import Settings
from tests.e2e.conftest import new_tenant

USER_FIELDS = """
    id subject tenantId roles email displayName phone timeZone locale version
    preferences { info warning critical criticalOverridesQuietHours
                  quietHours { start end days } }
    pushTokens { id platform registeredAt }
"""
ME = f"query {{ me {{ {USER_FIELDS} }} }}"
UPDATE = f"""mutation($input: UpdateProfileInput!) {{
  updateMyProfile(input: $input) {{ {USER_FIELDS} }} }}"""
PREFERENCES = f"""mutation($input: NotificationPreferencesInput!) {{
  setNotificationPreferences(input: $input) {{ {USER_FIELDS} }} }}"""
REGISTER = f"""mutation($input: RegisterPushTokenInput!) {{
  registerPushToken(input: $input) {{ {USER_FIELDS} }} }}"""
REMOVE = f"""mutation($input: RemovePushTokenInput!) {{
  removePushToken(input: $input) {{ {USER_FIELDS} }} }}"""


def token(settings: Settings, subject: str, tenant: str, *roles: str) -> str:
    return f"Bearer {issue_token(settings, subject, tenant, roles, 600)}"


def gql(client: TestClient, query: str, auth: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": auth} if auth else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][field]
    return result


def error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body.get("errors") or ()) == 1, body
    extensions: dict[str, Any] = body["errors"][0]["extensions"]
    return extensions


@pytest.fixture
def alice(api_settings: Settings) -> str:
    return token(api_settings, "alice", new_tenant(), "operator")


def test_me_before_any_change_has_defaults_from_the_token(
    api_client: TestClient, alice: str
) -> None:
    me = data(gql(api_client, ME, alice), "me")
    assert (me["subject"], me["roles"], me["version"]) == ("alice", ["OPERATOR"], 0)
    assert (me["email"], me["timeZone"], me["locale"], me["pushTokens"]) == (None, "UTC", "en", [])
    assert me["preferences"] == {
        "info": [],
        "warning": ["EMAIL"],
        "critical": ["EMAIL", "PUSH"],
        "criticalOverridesQuietHours": True,
        "quietHours": None,
    }


def test_profile_changes_only_the_fields_given_and_me_reads_them_back(
    api_client: TestClient, alice: str
) -> None:
    created = data(
        gql(
            api_client,
            UPDATE,
            alice,
            input={"email": "a@example.com", "displayName": "Alice", "phone": "+4915112345678"},
        ),
        "updateMyProfile",
    )
    assert (created["email"], created["displayName"], created["phone"]) == (
        "a@example.com",
        "Alice",
        "+4915112345678",
    )
    assert created["version"] == 2  # created, then updated, in one save
    updated = data(
        gql(api_client, UPDATE, alice, input={"timeZone": "Europe/Berlin", "phone": None}),
        "updateMyProfile",
    )
    assert (updated["timeZone"], updated["phone"], updated["email"]) == (
        "Europe/Berlin",
        None,
        "a@example.com",
    )
    me = data(gql(api_client, ME, alice), "me")  # the read model, after read-your-writes
    assert me == updated


def test_preferences_with_quiet_hours_and_optimistic_concurrency(
    api_client: TestClient, alice: str
) -> None:
    preferences = {
        "info": [],
        "warning": ["EMAIL", "SMS"],
        "critical": ["PUSH", "SMS"],
        "quietHours": {"start": "22:00", "end": "07:00", "days": [4, 0, 0]},
        "criticalOverridesQuietHours": False,
        "expectedVersion": 0,
    }
    saved = data(
        gql(api_client, PREFERENCES, alice, input=preferences), "setNotificationPreferences"
    )
    assert saved["preferences"] == {
        "info": [],
        "warning": ["EMAIL", "SMS"],
        "critical": ["PUSH", "SMS"],
        "criticalOverridesQuietHours": False,
        "quietHours": {"start": "22:00", "end": "07:00", "days": [0, 4]},
    }
    assert data(gql(api_client, ME, alice), "me")["preferences"] == saved["preferences"]
    stale = gql(api_client, PREFERENCES, alice, input=preferences)  # still expects version 0
    assert error(stale)["code"] == "CONFLICT"


def test_push_tokens_register_and_remove(api_client: TestClient, alice: str) -> None:
    registered = data(
        gql(api_client, REGISTER, alice, input={"token": "fcm-token-1", "platform": "ANDROID"}),
        "registerPushToken",
    )
    [pushed] = registered["pushTokens"]
    assert pushed["platform"] == "ANDROID"
    assert len(pushed["id"]) == 16
    assert data(gql(api_client, ME, alice), "me")["pushTokens"] == [pushed]

    removed = data(
        gql(api_client, REMOVE, alice, input={"tokenId": pushed["id"]}), "removePushToken"
    )
    assert removed["pushTokens"] == []
    again = gql(api_client, REMOVE, alice, input={"tokenId": pushed["id"]})
    assert error(again)["code"] == "NOT_FOUND"


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    (UPDATE, {"phone": "0151 no"}, "phone"),
    (UPDATE, {"timeZone": "Mars/Olympus"}, "timeZone"),
    (UPDATE, {"timeZone": None}, "timeZone"),
    (UPDATE, {"email": "not-an-address"}, "email"),
    (
        PREFERENCES,
        {
            "info": [],
            "warning": [],
            "critical": [],
            "quietHours": {"start": "25:00", "end": "07:00"},
        },
        "quietHours.start",
    ),
    (
        PREFERENCES,
        {
            "info": [],
            "warning": [],
            "critical": [],
            "quietHours": {"start": "07:00", "end": "07:00"},
        },
        "quietHours",
    ),
    (
        PREFERENCES,
        {
            "info": [],
            "warning": [],
            "critical": [],
            "quietHours": {"start": "22:00", "end": "07:00", "days": [7]},
        },
        "quietHours.days",
    ),
    (REGISTER, {"token": "has space", "platform": "IOS"}, "token"),
    (REMOVE, {"tokenId": "nope"}, "tokenId"),
]


def test_bad_input_names_the_field_and_stores_nothing(api_client: TestClient, alice: str) -> None:
    for query, variables, field in BAD_INPUTS:
        body = gql(api_client, query, alice, input=variables)
        assert error(body) == {"code": "BAD_USER_INPUT", "field": field}, (variables, body)
    assert data(gql(api_client, ME, alice), "me")["version"] == 0


def test_tenants_and_roles(api_client: TestClient, api_settings: Settings) -> None:
    tenant = new_tenant()
    alice = token(api_settings, "alice", tenant, "viewer")
    data(gql(api_client, UPDATE, alice, input={"email": "a@example.com"}), "updateMyProfile")
    elsewhere = token(api_settings, "alice", new_tenant(), "auditor")  # same subject, other tenant
    other = data(gql(api_client, ME, elsewhere), "me")
    assert (other["email"], other["version"], other["roles"]) == (None, 0, ["AUDITOR"])
    assert other["id"] != data(gql(api_client, ME, alice), "me")["id"]

    for role in ("viewer", "operator", "admin", "auditor"):
        me = data(gql(api_client, ME, token(api_settings, f"u-{role}", tenant, role)), "me")
        assert me["roles"] == [role.upper()]
    nobody = token(api_settings, "mallory", tenant, "guest")
    assert error(gql(api_client, ME, nobody))["code"] == "FORBIDDEN"
    assert error(gql(api_client, ME, None))["code"] == "UNAUTHENTICATED"
    unauthenticated = gql(api_client, UPDATE, None, input={"email": "x@example.com"})
    assert error(unauthenticated)["code"] == "UNAUTHENTICATED"


ERASE_ME = "mutation { eraseMyPersonalData { userId version } }"
ERASE_USER = """mutation($input: ErasePersonalDataInput!) {
  eraseUserPersonalData(input: $input) { userId version } }"""


def test_personal_data_is_erased_by_its_owner_or_an_admin(
    api_client: TestClient, api_settings: Settings
) -> None:
    """docs/audit.md 19.7: the owner (any role that edits a profile) or an admin erases;
    afterwards `me` shows no email, name, phone or push token; an auditor changes nothing."""
    tenant = new_tenant()
    alice = token(api_settings, "alice", tenant, "viewer")
    bob = token(api_settings, "bob", tenant, "operator")
    admin = token(api_settings, "root", tenant, "admin")
    auditor = token(api_settings, "eve", tenant, "auditor")
    assert error(gql(api_client, ERASE_ME, alice))["code"] == "NOT_FOUND"  # nothing recorded
    for who in (alice, bob):
        gql(api_client, UPDATE, who, input={"email": "x@example.com", "displayName": "X"})
        gql(api_client, REGISTER, who, input={"token": "tok-" + who[-8:], "platform": "IOS"})
    erased = data(gql(api_client, ERASE_ME, alice), "eraseMyPersonalData")
    me = data(gql(api_client, ME, alice), "me")
    assert (erased["userId"], erased["version"]) == (me["id"], me["version"])
    assert (me["email"], me["displayName"], me["pushTokens"]) == (None, None, [])

    bob_id = data(gql(api_client, ME, bob), "me")["id"]
    for caller in (alice, bob, auditor):
        assert error(gql(api_client, ERASE_USER, caller, input={"userId": bob_id})) == {
            "code": "FORBIDDEN"
        }
    assert data(gql(api_client, ME, bob), "me")["email"] == "x@example.com"
    assert error(gql(api_client, ERASE_ME, auditor))["code"] == "FORBIDDEN"
    bad = gql(api_client, ERASE_USER, admin, input={"userId": "nope"})
    assert error(bad) == {"code": "BAD_USER_INPUT", "field": "userId"}
    elsewhere = token(api_settings, "root", new_tenant(), "admin")
    assert error(gql(api_client, ERASE_USER, elsewhere, input={"userId": bob_id}))["code"] == (
        "NOT_FOUND"
    )
    done = data(
        gql(api_client, ERASE_USER, admin, input={"userId": bob_id}), "eraseUserPersonalData"
    )
    bob_now = data(gql(api_client, ME, bob), "me")
    assert (bob_now["email"], bob_now["pushTokens"], bob_now["version"]) == (
        None,
        [],
        done["version"],
    )
