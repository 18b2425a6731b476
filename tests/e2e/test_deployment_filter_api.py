"""A deployment targeting a filter (docs/firmware.md 12.2) through the real app on SQLite: created
over REST, the running orchestrator executes exactly the devices matching the filter OR named
beside it; created over GraphQL, the filter is recorded as sent; a bad filter is a typed
error naming its field on both wires, and nothing is stored."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_alerts_api import data, error, gql
from tests.e2e.test_deployments_api import CREATE, body, publish
from write_side.commands import RegisterDevice
from write_side.deployment_target import Target, TargetFilter

WAIT = 10.0


def register(system: System, tenant: str, name: str, tags: list[str]) -> UUID:
    command = RegisterDevice(name=name, device_type="pump", tags=tags)
    meta = EventMetadata(tenant, "user:admin")
    return system.device_service.register(command, meta).aggregate.id


def executed(client: TestClient, token: str, deployment_id: str, expected: int) -> set[str]:
    """The devices of the deployment's executions, once `expected` of them are shown."""
    url = f"/firmware/deployments/{deployment_id}/executions"
    deadline = time.monotonic() + WAIT
    while True:
        items = client.get(url, headers={"Authorization": token}).json()["items"]
        if len(items) >= expected or time.monotonic() > deadline:
            return {item["deviceId"] for item in items}
        time.sleep(0.05)


def test_a_filter_target_over_both_wires(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    operator = tokens(tenant, "operator")
    firmware_id = publish(api_system, tenant)
    north = register(api_system, tenant, "North pump", ["north"])
    register(api_system, tenant, "north valve", ["north"])  # not a pump by name
    register(api_system, tenant, "pump south", ["south"])  # not tagged north
    named = register(api_system, tenant, "spare", [])
    target: dict[str, Any] = {
        "deviceIds": [str(named)],
        "filter": {"tag": "north", "nameContains": "PUMP", "lifecycle": "active"},
    }

    created = api_client.post(
        "/firmware/deployments",
        json=body(firmware_id, target=target, waves=None, startAt=None),
        headers={"Authorization": operator},
    )
    assert created.status_code == 201, created.text
    assert executed(api_client, operator, created.json()["id"], 2) == {str(north), str(named)}

    later = {"filter": {"firmwareVersions": ["1.2.0", "1.2.1"]}, "dynamic": True}
    sent = body(firmware_id, target=later)
    by_graphql = data(gql(api_client, CREATE, operator, input=sent))["createDeployment"]
    recorded = api_system.deployment_service.get(tenant, UUID(by_graphql["id"])).target
    assert recorded == Target(
        dynamic=True, filter=TargetFilter(firmware_versions=("1.2.0", "1.2.1"))
    )

    head = api_system.event_log.head()
    for bad, field in (
        ({}, "target.filter"),
        ({"lifecycle": "retired"}, "target.filter.lifecycle"),
        ({"nameContains": ""}, "target.filter.nameContains"),
        ({"firmwareVersions": [""]}, "target.filter.firmwareVersions"),
    ):
        sent = body(firmware_id, target={"filter": bad})
        rest = api_client.post(
            "/firmware/deployments", json=sent, headers={"Authorization": operator}
        )
        assert rest.status_code == 422, (bad, rest.text)
        problem = rest.json()["error"]
        assert (problem["code"], problem["field"]) == ("BAD_USER_INPUT", field), bad
        problem = error(gql(api_client, CREATE, operator, input=sent))
        assert (problem["code"], problem["field"]) == ("BAD_USER_INPUT", field), bad
    assert api_system.event_log.head() == head
