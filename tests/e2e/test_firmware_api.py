"""Firmware releases and signing keys end to end through the real app on both stores (SQLite,
DynamoDB Local): a release published with `FirmwareService.publish` directly (the upload route
is apart), shown and listed over REST and GraphQL, withdrawn (admin only), the signing keys and
the signature requirement, and a second tenant that sees and touches nothing.

Commands answer through the one command path whether or not the read models run here; the
reads need the firmware read model (wired by `build_system`)."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient

from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_alerts_api import api_settings, data, error, gql  # noqa: F401 - both stores
from tests.e2e.test_deployments_api import publish

PUBLIC_KEY = base64.b64encode(bytes(range(1, 33))).decode()  # any 32 bytes parse as a key
KEY_ID = hashlib.sha256(bytes(range(1, 33))).hexdigest()[:16]
FIRMWARE = "id firmwareVersion deviceTypes sizeBytes sha256 status withdrawnAt version"
ONE = f"query($id: ID!) {{ firmware(id: $id) {{ {FIRMWARE} }} }}"
RELEASES = f"""query($filter: FirmwareFilter) {{ firmwareReleases(filter: $filter) {{
  edges {{ cursor node {{ {FIRMWARE} }} }} pageInfo {{ hasNextPage }} }} }}"""
WITHDRAW = f"""mutation($input: WithdrawFirmwareInput!) {{
  withdrawFirmware(input: $input) {{ {FIRMWARE} }} }}"""
REGISTER = """mutation($input: RegisterSigningKeyInput!) {
  registerSigningKey(input: $input) { keyId label revokedAt } }"""
REQUIRE = """mutation($input: RequireSignedFirmwareInput!) {
  requireSignedFirmware(input: $input) { required version } }"""
KEYS = "{ signingKeys { keyId label revokedAt } }"


def test_withdraw_and_signing_keys_by_role(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin, operator = tokens(tenant, "admin"), tokens(tenant, "operator")
    firmware_id = str(publish(api_system, tenant))

    assert error(gql(api_client, WITHDRAW, operator, input={"id": firmware_id}))["code"] == (
        "FORBIDDEN"
    )
    stale = api_client.post(
        f"/firmware/{firmware_id}/withdraw",
        json={"expectedVersion": 9},
        headers={"Authorization": admin},
    )
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "CONFLICT")
    withdrawn = data(gql(api_client, WITHDRAW, admin, input={"id": firmware_id, "reason": "x"}))
    shown = withdrawn["withdrawFirmware"]
    assert (shown["status"], shown["sizeBytes"], shown["deviceTypes"]) == (
        "WITHDRAWN", 1024, ["pump"],
    )  # fmt: skip
    assert shown["withdrawnAt"] is not None
    bad_id = error(gql(api_client, WITHDRAW, admin, input={"id": "nope"}))
    assert (bad_id["code"], bad_id["field"]) == ("BAD_USER_INPUT", "id")

    # Signing keys: admin only; a bad key is named; revoke; the requirement.
    as_admin = {"Authorization": admin}
    sent = {"publicKey": PUBLIC_KEY, "label": "ci"}
    refused = api_client.post(
        "/firmware/signing-keys", json=sent, headers={"Authorization": operator}
    )
    assert refused.status_code == 403
    registered = api_client.post("/firmware/signing-keys", json=sent, headers=as_admin)
    assert registered.status_code == 201, registered.text
    assert registered.json() == {
        "keyId": KEY_ID, "label": "ci", "registeredAt": registered.json()["registeredAt"],
        "revokedAt": None,
    }  # fmt: skip
    wrong = error(gql(api_client, REGISTER, admin, input={"publicKey": "abc", "label": "x"}))
    assert (wrong["code"], wrong["field"]) == ("BAD_USER_INPUT", "publicKey")
    revoked = api_client.post(
        f"/firmware/signing-keys/{KEY_ID}/revoke", json={"reason": "leaked"}, headers=as_admin
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revokedAt"] is not None
    unknown = api_client.post("/firmware/signing-keys/0000000000000000/revoke", headers=as_admin)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "NOT_FOUND")
    required = data(gql(api_client, REQUIRE, admin, input={"required": True}))
    assert required["requireSignedFirmware"]["required"] is True
    put = api_client.put(
        "/firmware/signing-requirement", json={"required": False}, headers=as_admin
    )
    assert (put.status_code, put.json()["required"]) == (200, False)
    assert put.json()["version"] == required["requireSignedFirmware"]["version"] + 1
    assert error(gql(api_client, REQUIRE, operator, input={"required": True}))["code"] == (
        "FORBIDDEN"
    )


def test_releases_and_keys_are_read_back_by_their_tenant_only(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    assert api_system.firmware is not None, "the firmware read model must be wired"
    tenant = new_tenant()
    admin, viewer = tokens(tenant, "admin"), tokens(tenant, "viewer")
    older, newer = publish(api_system, tenant, "1.9.0"), publish(api_system, tenant, "1.10.0")
    api_client.post(
        "/firmware/signing-keys",
        json={"publicKey": PUBLIC_KEY, "label": "ci"},
        headers={"Authorization": admin},
    )

    listed = api_client.get("/firmware", headers={"Authorization": viewer})
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == [str(newer), str(older)]  # SemVer order
    one = api_client.get(f"/firmware/{older}", headers={"Authorization": viewer})
    assert (one.json()["firmwareVersion"], one.headers["ETag"]) == ("1.9.0", '"2"')
    shown = data(gql(api_client, ONE, viewer, id=str(newer)))["firmware"]
    assert (shown["firmwareVersion"], shown["status"]) == ("1.10.0", "AVAILABLE")
    page = data(gql(api_client, RELEASES, viewer, filter={"deviceType": "pump"}))
    assert [e["node"]["id"] for e in page["firmwareReleases"]["edges"]] == [str(newer), str(older)]
    assert data(gql(api_client, RELEASES, viewer, filter={"status": "WITHDRAWN"})) == {
        "firmwareReleases": {"edges": [], "pageInfo": {"hasNextPage": False}}
    }
    keys = api_client.get("/firmware/signing-keys", headers={"Authorization": viewer}).json()
    assert [(k["keyId"], k["label"]) for k in keys] == [(KEY_ID, "ci")]
    assert data(gql(api_client, KEYS, viewer))["signingKeys"][0]["keyId"] == KEY_ID

    stranger = tokens(new_tenant(), "admin")
    missing = api_client.get(f"/firmware/{older}", headers={"Authorization": stranger})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert data(gql(api_client, ONE, stranger, id=str(older)))["firmware"] is None
    assert api_client.get("/firmware", headers={"Authorization": stranger}).json()["items"] == []
    assert data(gql(api_client, KEYS, stranger))["signingKeys"] == []
    withdraw = api_client.post(f"/firmware/{older}/withdraw", headers={"Authorization": stranger})
    assert withdraw.status_code == 404
