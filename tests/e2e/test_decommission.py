"""Decommissioning honours the expected version on both APIs, like updating does: a stale
version is a CONFLICT and leaves the device as it was (active, same version)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_graphql_devices import DECOMMISSION, DEVICE, data, error, gql, register
from tests.e2e.test_rest_devices import auth, create, problem


def test_rest_decommission_with_a_stale_version_is_a_conflict(
    api_client: TestClient, tokens: Tokens
) -> None:
    token = tokens(new_tenant(), "operator")
    device = create(api_client, token)
    path = f"/devices/{device['id']}"
    renamed = api_client.put(path, json={"name": "renamed"}, headers=auth(token))
    assert renamed.json()["version"] == 2

    for stale in (
        {"headers": auth(token) | {"If-Match": '"1"'}},
        {"params": {"expectedVersion": 1}},
    ):
        request: dict[str, Any] = {"headers": auth(token)} | stale
        refused = problem(api_client.delete(path, **request), 409)
        assert refused["code"] == "CONFLICT"
    shown = api_client.get(path, headers=auth(token)).json()
    assert (shown["lifecycle"], shown["version"]) == ("active", 2)

    current = api_client.delete(path, headers=auth(token) | {"If-Match": '"2"'})
    assert current.status_code == 200, current.text
    assert (current.json()["lifecycle"], current.json()["version"]) == ("decommissioned", 3)


def test_graphql_decommission_with_a_stale_version_is_a_conflict(
    api_client: TestClient, tokens: Tokens
) -> None:
    token = tokens(new_tenant(), "operator")
    device = register(api_client, token)
    stale = gql(api_client, DECOMMISSION, token, input={"id": device["id"], "expectedVersion": 2})
    assert error(stale)["extensions"]["code"] == "CONFLICT"
    shown = data(gql(api_client, DEVICE, token, id=device["id"]))["device"]
    assert (shown["lifecycle"], shown["version"]) == ("ACTIVE", 1)

    current = gql(api_client, DECOMMISSION, token, input={"id": device["id"], "expectedVersion": 1})
    done = data(current)["decommissionDevice"]
    assert (done["lifecycle"], done["version"]) == ("DECOMMISSIONED", 2)
