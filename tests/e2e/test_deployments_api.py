"""Deployments end to end through the real app on both stores (SQLite, DynamoDB Local): create
over REST and GraphQL, bad input named by field with nothing stored, pause, resume, cancel and
approve with the roles of docs/firmware.md 12.8, the read side (list, show with executions), a
second tenant that sees and touches nothing, and a `deploymentProgress` subscriber.

A release is published with `FirmwareService.publish` directly (the upload route is apart).
Commands answer through the one command path whether or not the read models run here; the
reads need the firmware and deployments read models (wired by `build_system`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from fastapi.testclient import TestClient

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from read_side.deployments.port import DEPLOYMENT_TOPIC as TOPIC
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.graphql_client import fanout_of, next_message, run, subscribe, until, ws_session
from tests.e2e.test_alerts_api import api_settings, data, error, gql  # noqa: F401 - both stores
from write_side.commands import RegisterDevice
from write_side.deployment_commands import CreateDeployment
from write_side.deployment_service import QueueExecution
from write_side.firmware_commands import PublishFirmware

WAIT = 10.0
DEPLOYMENT = "id name firmwareId status currentWave targets version seed waves { index approval }"
CREATE = f"""mutation($input: CreateDeploymentInput!) {{
  createDeployment(input: $input) {{ {DEPLOYMENT} }} }}"""
PAUSE = f"""mutation($input: DeploymentCommandInput!) {{
  pauseDeployment(input: $input) {{ {DEPLOYMENT} }} }}"""
APPROVE = (
    f"""mutation($input: ApproveWaveInput!) {{ approveWave(input: $input) {{ {DEPLOYMENT} }} }}"""
)
ONE = f"""query($id: ID!) {{ deployment(id: $id) {{ {DEPLOYMENT} firmware {{ firmwareVersion }}
  executions {{ edges {{ node {{ id }} }} pageInfo {{ hasNextPage }} }} }} }}"""
LIST = """query($filter: DeploymentFilter) { deployments(filter: $filter) {
  edges { cursor node { id status } } pageInfo { hasNextPage } } }"""
PROGRESS = """subscription($id: ID!) { deploymentProgress(deploymentId: $id) {
  eventType position cursor deployment { id status version } } }"""


def publish(system: System, tenant: str, version: str = "2.0.0") -> UUID:
    command = PublishFirmware(
        version=version,
        device_types=["pump"],
        filename="pump.bin",
        size_bytes=1024,
        sha256="ab" * 32,
    )
    meta = EventMetadata(tenant, "user:admin")
    return system.firmware_service.publish(command, meta).aggregate.id


def register(system: System, tenant: str) -> UUID:
    command = RegisterDevice(name="pump-1", device_type="pump")
    return system.device_service.register(command, EventMetadata(tenant, "user:admin")).aggregate.id


def body(firmware_id: UUID, **more: Any) -> dict[str, Any]:
    """A deployment that starts long after the test: the system's orchestrator leaves it
    SCHEDULED, so the test plays the orchestrator's part by hand."""
    return {
        "name": "pumps to 2.0.0",
        "firmwareId": str(firmware_id),
        "target": {"deviceTypes": ["pump"]},
        "waves": [{"percent": 50}, {"approval": True}],  # the last wave takes the rest
        "startAt": "2100-01-01T00:00:00+00:00",
    } | more


def needs_read_models(system: System) -> None:
    """Fails (never skips) when `build_system` does not wire the models the reads need."""
    assert system.firmware is not None, "the firmware read model must be wired"
    assert system.deployments is not None, "the deployments read model must be wired"


def test_create_bad_input_roles_and_commands(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin, operator, viewer = (tokens(tenant, r) for r in ("admin", "operator", "viewer"))
    firmware_id = publish(api_system, tenant)
    register(api_system, tenant)

    forbidden = api_client.post(
        "/firmware/deployments", json=body(firmware_id), headers={"Authorization": viewer}
    )
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "FORBIDDEN")

    # Bad input: a typed error naming the field as both wires spell it; nothing stored.
    head = api_system.event_log.head()
    bad = {
        "target": (body(firmware_id, target={}), "target"),
        "window": (
            body(
                firmware_id,
                windows=[{"start": "01:00", "end": "03:00"}, {"start": "02:00", "end": "04:00"}],
            ),
            "windows[1]",
        ),
        "threshold": (
            body(firmware_id, waves=[{"percent": 50, "successPercent": 150}, {}]),
            "waves[0].successPercent",
        ),
    }
    for name, (sent, field) in bad.items():
        rest = api_client.post(
            "/firmware/deployments", json=sent, headers={"Authorization": operator}
        )
        assert rest.status_code == 422, (name, rest.text)
        assert rest.json()["error"]["field"] == field, name
        assert rest.json()["error"]["code"] == "BAD_USER_INPUT"
        problem = error(gql(api_client, CREATE, operator, input=sent))
        assert (problem["code"], problem["field"]) == ("BAD_USER_INPUT", field), name
    assert api_system.event_log.head() == head

    # Operator creates (REST: 201 with Location; GraphQL alike), pauses, resumes, cancels.
    created = api_client.post(
        "/firmware/deployments", json=body(firmware_id), headers={"Authorization": operator}
    )
    assert created.status_code == 201, created.text
    shown = created.json()
    assert created.headers["Location"] == f"/firmware/deployments/{shown['id']}"
    assert (shown["status"], shown["firmwareId"], shown["version"]) == (
        "SCHEDULED", str(firmware_id), 1,
    )  # fmt: skip
    assert [w["approval"] for w in shown["waves"]] == [False, True]
    by_graphql = data(gql(api_client, CREATE, operator, input=body(firmware_id, seed="7")))
    assert by_graphql["createDeployment"]["seed"] == "7"

    url = f"/firmware/deployments/{shown['id']}"
    as_operator = {"Authorization": operator}
    paused = api_client.post(f"{url}/pause", json={"reason": "night"}, headers=as_operator)
    assert (paused.status_code, paused.json()["status"], paused.headers["ETag"]) == (
        200, "PAUSED", '"2"',
    )  # fmt: skip
    stale = api_client.post(f"{url}/resume", headers=as_operator | {"If-Match": '"1"'})
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "CONFLICT")
    resumed = api_client.post(f"{url}/resume", headers=as_operator | {"If-Match": '"2"'})
    assert resumed.json()["status"] == "SCHEDULED"

    # Approving is admin's: the operator is forbidden; the admin is refused by the domain
    # (no wave awaits approval before the rollout starts), not by the role.
    approve = {"wave": 1}
    assert api_client.post(f"{url}/approve", json=approve, headers=as_operator).status_code == 403
    refused = api_client.post(f"{url}/approve", json=approve, headers={"Authorization": admin})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "INVALID_TRANSITION")
    problem = error(gql(api_client, APPROVE, operator, input={"id": shown["id"], "wave": 1}))
    assert problem["code"] == "FORBIDDEN"

    canceled = api_client.post(f"{url}/cancel", headers=as_operator)
    assert canceled.json()["status"] == "CANCELED"
    finished = error(gql(api_client, PAUSE, operator, input={"id": shown["id"]}))
    assert finished["code"] == "DEPLOYMENT_FINISHED"
    assert api_client.post(f"{url}/pause", headers={"Authorization": viewer}).status_code == 403

    # A second tenant touches nothing.
    stranger = {"Authorization": tokens(new_tenant(), "admin")}
    assert api_client.post(f"{url}/pause", headers=stranger).status_code == 404
    other = api_client.post("/firmware/deployments", json=body(firmware_id), headers=stranger)
    assert (other.status_code, other.json()["error"]["field"]) == (422, "firmwareId")


def test_deployments_are_read_back_by_their_tenant_only(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    needs_read_models(api_system)
    tenant = new_tenant()
    operator, viewer = tokens(tenant, "operator"), tokens(tenant, "viewer")
    firmware_id = publish(api_system, tenant)
    register(api_system, tenant)
    created = data(gql(api_client, CREATE, operator, input=body(firmware_id)))["createDeployment"]
    deployment_id = created["id"]

    shown = api_client.get(
        f"/firmware/deployments/{deployment_id}", headers={"Authorization": viewer}
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["executions"] == {"items": [], "nextCursor": None}
    assert shown.json()["name"] == "pumps to 2.0.0"
    one = data(gql(api_client, ONE, viewer, id=deployment_id))["deployment"]
    assert one["firmware"] == {"firmwareVersion": "2.0.0"}
    assert one["executions"] == {"edges": [], "pageInfo": {"hasNextPage": False}}
    listed = api_client.get(
        "/firmware/deployments", params={"status": "SCHEDULED"}, headers={"Authorization": viewer}
    )
    assert [d["id"] for d in listed.json()["items"]] == [deployment_id]
    edges = data(gql(api_client, LIST, viewer, filter={"firmwareId": str(firmware_id)}))
    assert [e["node"]["id"] for e in edges["deployments"]["edges"]] == [deployment_id]
    executions = api_client.get(
        f"/firmware/deployments/{deployment_id}/executions", headers={"Authorization": viewer}
    )
    assert executions.json() == {"items": [], "nextCursor": None}

    stranger = tokens(new_tenant(), "admin")
    missing = api_client.get(
        f"/firmware/deployments/{deployment_id}", headers={"Authorization": stranger}
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert data(gql(api_client, ONE, stranger, id=deployment_id))["deployment"] is None
    assert data(gql(api_client, LIST, stranger))["deployments"]["edges"] == []


def test_a_subscriber_sees_its_deployment_change(
    api_system: System, live_url: str, tokens: Tokens
) -> None:
    needs_read_models(api_system)
    tenant = new_tenant()
    operator, viewer = tokens(tenant, "operator"), tokens(tenant, "viewer")
    firmware_id = publish(api_system, tenant)
    register(api_system, tenant)

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=f"http://{live_url}", timeout=WAIT) as client:
            created = await client.post(
                "/firmware/deployments", json=body(firmware_id), headers={"Authorization": operator}
            )
            deployment_id = created.json()["id"]
            async with ws_session(live_url, {"Authorization": viewer}, WAIT) as ws:
                await subscribe(ws, "1", PROGRESS, {"id": deployment_id})
                await until(lambda: fanout_of(api_system).subscriber_count(tenant, TOPIC) == 1)
                await client.post(
                    f"/firmware/deployments/{deployment_id}/pause",
                    headers={"Authorization": operator},
                )
                message = await next_message(ws, WAIT)
        progress = message["payload"]["data"]["deploymentProgress"]
        assert progress["deployment"] == {"id": deployment_id, "status": "PAUSED", "version": 2}
        assert progress["eventType"].endswith("Paused")
        assert progress["cursor"] == str(progress["position"])

    run(scenario)


RESUMED_PROGRESS = """subscription($id: ID!, $after: String) {
  deploymentProgress(deploymentId: $id, after: $after) {
    eventType position cursor deployment { id status version } execution { id state } } }"""


def test_a_progress_subscriber_resumes_with_what_changed_while_away(
    api_system: System, live_url: str, tokens: Tokens
) -> None:
    """`after`: the deployment and each execution changed since, once each as they are now,
    in the order of their last change; then live."""
    needs_read_models(api_system)
    tenant = new_tenant()
    operator, viewer = tokens(tenant, "operator"), tokens(tenant, "viewer")
    firmware_id = publish(api_system, tenant)
    device_id = register(api_system, tenant)
    meta = EventMetadata(tenant, "user:op")

    async def scenario() -> None:
        auth = {"Authorization": operator}
        async with httpx.AsyncClient(base_url=f"http://{live_url}", timeout=WAIT) as client:
            created = await client.post(
                "/firmware/deployments", json=body(firmware_id), headers=auth
            )
            deployment_id = created.json()["id"]
            variables = {"id": deployment_id}
            async with ws_session(live_url, {"Authorization": viewer}, WAIT) as ws:
                await subscribe(ws, "1", RESUMED_PROGRESS, variables)
                await until(lambda: fanout_of(api_system).subscriber_count(tenant, TOPIC) == 1)
                await client.post(f"/firmware/deployments/{deployment_id}/pause", headers=auth)
                paused = (await next_message(ws, WAIT))["payload"]["data"]["deploymentProgress"]
            # While away: an execution queued, the deployment resumed (its last change).
            queued = api_system.deployment_service.queue(
                QueueExecution(UUID(deployment_id), device_id, wave=0, from_version="1.0.0"), meta
            )
            await client.post(f"/firmware/deployments/{deployment_id}/resume", headers=auth)
            assert api_system.wait_for(api_system.event_log.head(), WAIT)
            async with ws_session(live_url, {"Authorization": viewer}, WAIT) as ws:
                after = variables | {"after": paused["cursor"]}
                await subscribe(ws, "1", RESUMED_PROGRESS, after)
                got = [
                    (await next_message(ws, WAIT))["payload"]["data"]["deploymentProgress"]
                    for _ in range(2)
                ]
                await client.post(f"/firmware/deployments/{deployment_id}/pause", headers=auth)
                live = (await next_message(ws, WAIT))["payload"]["data"]["deploymentProgress"]
        execution, deployment = got
        assert execution["execution"]["state"] == "QUEUED"
        assert execution["execution"]["id"] == str(queued.aggregate.id)
        assert deployment["execution"] is None
        assert deployment["eventType"].endswith("Resumed")
        assert deployment["deployment"]["status"] != "PAUSED"
        assert live["eventType"].endswith("Paused")
        positions = [
            paused["position"],
            execution["position"],
            deployment["position"],
            live["position"],
        ]
        assert positions == sorted(set(positions))  # in order, nothing twice

    run(scenario)


EXECUTIONS = """query($id: ID!, $state: ExecutionState) { deployment(id: $id) {
  counts { state count }
  executions(state: $state) { edges { node { id deviceId state purpose wave
    device { name } history { from to event reason } } } } } }"""
EXECUTION = "query($id: ID!) { execution(id: $id) { id state fromVersion } }"
COMPLIANCE = """query($type: String) { fleetCompliance(deviceType: $type) {
  deviceType devices behind latest { firmwareVersion } versions { firmwareVersion devices } } }"""


def test_executions_and_compliance_are_read_back(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    """An execution queued as the orchestrator would: shown with its device and history over
    GraphQL and REST; the fleet's compliance for the device type."""
    needs_read_models(api_system)
    tenant = new_tenant()
    viewer = tokens(tenant, "viewer")
    firmware_id = publish(api_system, tenant)
    device_id = register(api_system, tenant)
    meta = EventMetadata(tenant, "user:op")
    created = api_system.deployment_service.create(
        CreateDeployment.model_validate(body(firmware_id)), meta
    )
    deployment_id = created.aggregate.id
    queued = api_system.deployment_service.queue(
        QueueExecution(deployment_id, device_id, wave=0, from_version="1.0.0"), meta
    )
    assert api_system.wait_for(queued.position, 10)

    shown = data(gql(api_client, EXECUTIONS, viewer, id=str(deployment_id)))["deployment"]
    assert shown["counts"] == [{"state": "QUEUED", "count": 1}]
    (edge,) = shown["executions"]["edges"]
    node = edge["node"]
    assert (node["deviceId"], node["state"], node["purpose"], node["wave"]) == (
        str(device_id), "QUEUED", "install", 0,
    )  # fmt: skip
    assert node["device"] == {"name": "pump-1"}
    assert node["history"] == [{"from": None, "to": "QUEUED", "event": "queued", "reason": "new"}]
    none = data(gql(api_client, EXECUTIONS, viewer, id=str(deployment_id), state="FAILED"))
    assert none["deployment"]["executions"]["edges"] == []
    one = data(gql(api_client, EXECUTION, viewer, id=node["id"]))["execution"]
    assert one == {"id": node["id"], "state": "QUEUED", "fromVersion": "1.0.0"}
    listed = api_client.get(
        f"/firmware/deployments/{deployment_id}/executions",
        params={"state": "QUEUED"},
        headers={"Authorization": viewer},
    ).json()
    assert [e["id"] for e in listed["items"]] == [node["id"]]

    compliance = api_client.get(
        "/firmware/compliance", params={"deviceType": "pump"}, headers={"Authorization": viewer}
    )
    assert compliance.status_code == 200, compliance.text
    (pump,) = compliance.json()
    assert (pump["deviceType"], pump["devices"], pump["latest"]["id"]) == (
        "pump", 1, str(firmware_id),
    )  # fmt: skip
    assert data(gql(api_client, COMPLIANCE, viewer, type="pump"))["fleetCompliance"] == [
        {
            "deviceType": "pump",
            "devices": 1,
            "behind": pump["behind"],
            "latest": {"firmwareVersion": "2.0.0"},
            "versions": [
                {"firmwareVersion": v["firmwareVersion"], "devices": v["devices"]}
                for v in pump["versions"]
            ],
        }
    ]
    stranger = tokens(new_tenant(), "viewer")
    assert data(gql(api_client, EXECUTION, stranger, id=node["id"]))["execution"] is None
    assert data(gql(api_client, COMPLIANCE, stranger))["fleetCompliance"] == []
