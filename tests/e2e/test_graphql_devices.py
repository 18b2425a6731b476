"""GraphQL device slice over HTTP, through the real app on SQLite: queries, mutations,
read-your-writes, tenants, concurrency, error codes and document limits."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.graphql.schema import build_schema
from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant

DEVICE_FIELDS = """
    id name deviceType tags metadata lifecycle version
    registeredAt updatedAt decommissionedAt decommissionReason
"""
REGISTER = f"""
mutation Register($input: RegisterDeviceInput!) {{
  registerDevice(input: $input) {{ {DEVICE_FIELDS} }}
}}"""
UPDATE = f"""
mutation Update($input: UpdateDeviceInput!) {{
  updateDevice(input: $input) {{ {DEVICE_FIELDS} }}
}}"""
DECOMMISSION = f"""
mutation Decommission($input: DecommissionDeviceInput!) {{
  decommissionDevice(input: $input) {{ {DEVICE_FIELDS} }}
}}"""
DEVICE = f"query Device($id: ID!) {{ device(id: $id) {{ {DEVICE_FIELDS} }} }}"
DEVICES = """
query Devices($filter: DeviceFilter, $first: Int! = 50, $after: String) {
  devices(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id name deviceType tags lifecycle } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def gql(client: TestClient, query: str, token: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": token} if token else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def error(body: dict[str, Any]) -> dict[str, Any]:
    """The single error of a response, with its extensions."""
    (only,) = body["errors"]
    assert "code" in only["extensions"], only
    result: dict[str, Any] = only
    return result


def register(client: TestClient, token: str, **fields: Any) -> dict[str, Any]:
    device_input = {"name": "pump 1", "deviceType": "pump.v2"} | fields
    device: dict[str, Any] = data(gql(client, REGISTER, token, input=device_input))[
        "registerDevice"
    ]
    return device


def test_the_schema_is_the_device_slice() -> None:
    sdl = build_schema().as_str()
    for line in (
        "scalar DateTime",
        "scalar JSON",
        "enum DeviceLifecycle {\n  ACTIVE\n  DECOMMISSIONED\n}",
        "  device(id: ID!): Device\n",
        "  devices(filter: DeviceFilter = null, first: Int! = 50, after: String = null): "
        "DeviceConnection!",
        "  registerDevice(input: RegisterDeviceInput!): Device!",
        "  updateDevice(input: UpdateDeviceInput!): Device!",
        "  decommissionDevice(input: DecommissionDeviceInput!): Device!",
        "  deviceChanged(deviceId: ID = null, after: String = null): DeviceChange!",
        "type DeviceChange {\n  device: Device!\n  eventType: String!\n  position: Int!\n}",
        "type PageInfo {\n  hasNextPage: Boolean!\n  endCursor: String\n}",
        "type DeviceEdge {\n  cursor: String!\n  node: Device!\n}",
        "  metadata: JSON!\n  lifecycle: DeviceLifecycle!\n  version: Int!\n",
        "  decommissionedAt: DateTime\n  decommissionReason: String\n",
    ):
        assert line in sdl


def test_register_then_query_reads_your_writes(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "operator")
    device = register(
        api_client, token, name="  Boiler 7 ", tags=["hall-a", "hall-a", "hot"], metadata={"k": "v"}
    )
    assert device["name"] == "Boiler 7"
    assert device["tags"] == ["hall-a", "hot"]
    assert (device["lifecycle"], device["version"]) == ("ACTIVE", 1)
    assert device["decommissionedAt"] is None
    # No sleep: the mutation waited for the read model.
    read = data(gql(api_client, DEVICE, token, id=device["id"]))["device"]
    assert read == device
    listed = data(gql(api_client, DEVICES, token))["devices"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [device["id"]]


def test_update_and_decommission(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "admin")
    device = register(api_client, token)
    updated = data(
        gql(
            api_client,
            UPDATE,
            token,
            input={"id": device["id"], "expectedVersion": 1, "name": "Pump B", "tags": ["x"]},
        )
    )["updateDevice"]
    assert (updated["name"], updated["tags"], updated["version"]) == ("Pump B", ["x"], 2)
    assert updated["deviceType"] == "pump.v2"
    gone = data(
        gql(api_client, DECOMMISSION, token, input={"id": device["id"], "reason": "worn out"})
    )["decommissionDevice"]
    assert (gone["lifecycle"], gone["decommissionReason"], gone["version"]) == (
        "DECOMMISSIONED",
        "worn out",
        3,
    )
    assert gone["decommissionedAt"] is not None
    again = gql(api_client, DECOMMISSION, token, input={"id": device["id"]})
    assert error(again)["extensions"]["code"] == "ALREADY_DECOMMISSIONED"
    read = data(gql(api_client, DEVICE, token, id=device["id"]))["device"]
    assert (read["lifecycle"], read["version"]) == ("DECOMMISSIONED", 3)


def test_filters_and_pages(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "operator")
    made = [
        register(api_client, token, name=f"sensor {i}", deviceType=kind, tags=tags)
        for i, (kind, tags) in enumerate(
            [("temp", ["roof"]), ("temp", ["cellar"]), ("humidity", ["roof"])]
        )
    ]
    gql(api_client, DECOMMISSION, token, input={"id": made[1]["id"]})

    def names(**variables: Any) -> list[str]:
        edges = data(gql(api_client, DEVICES, token, **variables))["devices"]["edges"]
        return sorted(edge["node"]["name"] for edge in edges)

    assert names(filter={"deviceType": "temp"}) == ["sensor 0", "sensor 1"]
    assert names(filter={"tag": "roof"}) == ["sensor 0", "sensor 2"]
    assert names(filter={"lifecycle": "ACTIVE"}) == ["sensor 0", "sensor 2"]
    assert names(filter={"nameContains": "SOR 2"}) == ["sensor 2"]

    seen: list[str] = []
    after = None
    for _ in range(3):
        page = data(gql(api_client, DEVICES, token, first=2, after=after))["devices"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert sorted(seen) == sorted(d["id"] for d in made)


def test_a_tenant_sees_nothing_of_another(api_client: TestClient, tokens: Tokens) -> None:
    token_a, token_b = tokens(new_tenant(), "admin"), tokens(new_tenant(), "admin")
    device = register(api_client, token_a)
    assert data(gql(api_client, DEVICE, token_b, id=device["id"]))["device"] is None
    assert data(gql(api_client, DEVICES, token_b))["devices"]["edges"] == []
    update = gql(api_client, UPDATE, token_b, input={"id": device["id"], "expectedVersion": 1})
    assert error(update)["extensions"]["code"] == "NOT_FOUND"
    gone = gql(api_client, DECOMMISSION, token_b, input={"id": device["id"]})
    assert error(gone)["extensions"]["code"] == "NOT_FOUND"
    assert data(gql(api_client, DEVICE, token_a, id=device["id"]))["device"]["version"] == 1


def test_concurrent_updates_with_one_expected_version_let_exactly_one_win(
    api_app: FastAPI, api_system: System, tokens: Tokens
) -> None:
    token = tokens(new_tenant(), "operator")

    async def scenario() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=api_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

            async def post(query: str, **variables: Any) -> dict[str, Any]:
                response = await client.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": token},
                )
                body: dict[str, Any] = response.json()
                return body

            created = await post(REGISTER, input={"name": "contested", "deviceType": "valve"})
            device_id = created["data"]["registerDevice"]["id"]
            results = await asyncio.gather(
                *(
                    post(UPDATE, input={"id": device_id, "expectedVersion": 1, "name": name})
                    for name in ("left", "right")
                )
            )
            return [created, *results]

    created, *results = asyncio.run(scenario())
    device_id = UUID(created["data"]["registerDevice"]["id"])
    won = [r for r in results if "errors" not in r]
    lost = [r for r in results if "errors" in r]
    assert len(won) == 1
    assert len(lost) == 1
    assert error(lost[0])["extensions"]["code"] == "CONFLICT"
    assert won[0]["data"]["updateDevice"]["version"] == 2
    types = [envelope.type for envelope in api_system.event_log.read_stream(device_id)]
    assert types == ["Device.Registered", "Device.Updated"]
    assert api_system.app.repository.get(device_id).version == 2


@pytest.mark.parametrize(
    ("device_input", "field"),
    [
        ({"name": "   ", "deviceType": "pump"}, "name"),
        ({"name": "ok", "deviceType": "not a type!"}, "deviceType"),
        ({"name": "ok", "deviceType": "pump", "metadata": {"k": "v" * 1025}}, "metadata"),
        (
            {"name": "ok", "deviceType": "pump", "metadata": {f"k{i}": "v" for i in range(65)}},
            "metadata",
        ),
        ({"name": "ok", "deviceType": "pump", "metadata": ["not", "an", "object"]}, "metadata"),
        ({"name": "ok", "deviceType": "pump", "tags": ["t"] * 33}, "tags"),
    ],
)
def test_bad_input_is_bad_user_input_naming_the_field_and_stores_nothing(
    api_client: TestClient,
    api_system: System,
    tokens: Tokens,
    device_input: dict[str, Any],
    field: str,
) -> None:
    token = tokens(new_tenant(), "operator")
    head = api_system.event_log.head()
    problem = error(gql(api_client, REGISTER, token, input=device_input))
    assert problem["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert api_system.event_log.head() == head


def test_bad_update_input_names_the_field(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    token = tokens(new_tenant(), "operator")
    device = register(api_client, token)
    head = api_system.event_log.head()
    for update, field in (
        ({"id": "not-a-uuid", "expectedVersion": 1}, "id"),
        ({"id": device["id"], "expectedVersion": 0}, "expectedVersion"),
        ({"id": device["id"], "expectedVersion": 1, "deviceType": "no spaces"}, "deviceType"),
    ):
        problem = error(gql(api_client, UPDATE, token, input=update))
        assert problem["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert api_system.event_log.head() == head


def test_a_malformed_id_is_bad_user_input(api_client: TestClient, tokens: Tokens) -> None:
    body = gql(api_client, DEVICE, tokens(new_tenant(), "viewer"), id="12345")
    assert body["data"] == {"device": None}
    assert error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    bad_cursor = gql(api_client, DEVICES, tokens(new_tenant(), "viewer"), after="%%%")
    assert error(bad_cursor)["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


@pytest.mark.parametrize("token", [None, "Bearer nonsense", "Basic dXNlcjpwYXNz"])
def test_without_valid_credentials_every_operation_is_unauthenticated(
    api_client: TestClient, api_system: System, token: str | None
) -> None:
    head = api_system.event_log.head()
    for query, variables in (
        (DEVICES, {}),
        (DEVICE, {"id": "00000000-0000-0000-0000-000000000001"}),
        (REGISTER, {"input": {"name": "x", "deviceType": "y"}}),
    ):
        body = gql(api_client, query, token, **variables)
        assert error(body)["extensions"]["code"] == "UNAUTHENTICATED"
    assert api_system.event_log.head() == head


def test_an_expired_token_is_unauthenticated(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "admin", ttl=-300)
    problem = error(gql(api_client, DEVICES, token))
    assert problem["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in problem["message"]


def test_a_viewer_reads_but_may_not_change(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    device = register(api_client, tokens(tenant, "operator"))
    viewer = tokens(tenant, "viewer")
    assert data(gql(api_client, DEVICE, viewer, id=device["id"]))["device"]["id"] == device["id"]
    head = api_system.event_log.head()
    for query, variables in (
        (REGISTER, {"input": {"name": "x", "deviceType": "y"}}),
        (UPDATE, {"input": {"id": device["id"], "expectedVersion": 1, "name": "z"}}),
        (DECOMMISSION, {"input": {"id": device["id"]}}),
    ):
        assert error(gql(api_client, query, viewer, **variables))["extensions"]["code"] == (
            "FORBIDDEN"
        )
    assert error(gql(api_client, DEVICES, tokens(tenant)))["extensions"]["code"] == "FORBIDDEN"
    assert api_system.event_log.head() == head


class ExplodingReader:
    def get(self, *args: object) -> None:
        raise RuntimeError("secret database detail /var/lib/secret.sqlite3")

    list = get


def test_an_unexpected_failure_is_masked_and_logged(
    api_client: TestClient,
    api_system: System,
    tokens: Tokens,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api_system.devices = ExplodingReader()  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR):
        response = api_client.post(
            "/graphql",
            json={"query": "{ devices { edges { node { id } } } }"},
            headers={"Authorization": tokens(new_tenant(), "viewer")},
        )
    assert response.status_code == 200
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    problem = error(response.json())
    assert problem["message"] == "Internal server error"
    assert problem["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert any(
        "secret database detail" in str(r.exc_info and r.exc_info[1]) for r in caplog.records
    )


def test_document_limits(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "viewer")
    aliases = " ".join(f"a{i}: devices {{ pageInfo {{ hasNextPage }} }}" for i in range(20))
    problem = error(gql(api_client, f"{{ {aliases} }}", token))
    assert problem["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "aliases" in problem["message"]
    huge = "{ devices { " + "pageInfo { hasNextPage } " * 1000 + "} }"
    problem = error(gql(api_client, huge, token))
    assert problem["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"  # the parser counts tokens
    assert "token" in problem["message"].lower()


def test_malformed_documents_have_codes(api_client: TestClient, tokens: Tokens) -> None:
    token = tokens(new_tenant(), "viewer")
    assert error(gql(api_client, "{ devices {", token))["extensions"]["code"] == (
        "GRAPHQL_PARSE_FAILED"
    )
    assert error(gql(api_client, "{ devices { nope } }", token))["extensions"]["code"] == (
        "GRAPHQL_VALIDATION_FAILED"
    )


def test_graphiql_is_served(api_client: TestClient) -> None:
    response = api_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_a_body_nested_too_deeply_is_a_400_not_a_500(api_client: TestClient) -> None:
    body = '{"query": "{ __typename }", "variables": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    response = api_client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
