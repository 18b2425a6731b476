"""Finishing a dynamic deployment (docs/firmware.md 12.2, 12.4) through the real app on SQLite:
the running orchestrator keeps it RUNNING (no ETA) after its waves; `finishDeployment` over
GraphQL and `POST .../finish` over REST (idempotent) mark it finishing with the decision
logged; it completes once its install ends. A snapshot deployment, a finished one and a viewer
are refused with typed errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_alerts_api import data, error, gql
from tests.e2e.test_deployment_filter_api import executed, register
from tests.e2e.test_deployments_api import body, publish
from write_side.deployment_commands import ReportUpdate

WAIT = 10.0
FINISH = """mutation($input: DeploymentCommandInput!) {
  finishDeployment(input: $input) { id status finishing eta decisions { kind by } } }"""


def shown_when(
    client: TestClient, token: str, url: str, status: str, finishing: bool
) -> dict[str, Any]:
    """The deployment as the read model shows it, once in `status` and `finishing`."""
    deadline = time.monotonic() + WAIT
    while True:
        shown: dict[str, Any] = client.get(url, headers={"Authorization": token}).json()
        wanted = (shown["status"], shown["finishing"]) == (status, finishing)
        if wanted or time.monotonic() > deadline:
            return shown
        time.sleep(0.05)


def test_a_dynamic_deployment_is_finished_over_both_wires(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    operator, viewer = tokens(tenant, "operator"), tokens(tenant, "viewer")
    as_operator = {"Authorization": operator}
    firmware_id = publish(api_system, tenant)
    device = register(api_system, tenant, "pump 1", ["north"])
    dynamic = {"tags": ["north"], "dynamic": True}
    created = api_client.post(
        "/firmware/deployments",
        json=body(firmware_id, target=dynamic, waves=None, startAt=None),
        headers=as_operator,
    )
    assert created.status_code == 201, created.text
    deployment_id = created.json()["id"]
    url = f"/firmware/deployments/{deployment_id}"
    assert executed(api_client, operator, deployment_id, 1) == {str(device)}
    running = shown_when(api_client, operator, url, "RUNNING", False)
    assert (running["status"], running["finishing"], running["eta"]) == ("RUNNING", False, None)

    assert api_client.post(f"{url}/finish", headers={"Authorization": viewer}).status_code == 403
    snapshot = api_client.post(
        "/firmware/deployments",
        json=body(firmware_id, target={"tags": ["north"]}),
        headers=as_operator,
    ).json()["id"]
    refused = api_client.post(f"/firmware/deployments/{snapshot}/finish", headers=as_operator)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "INVALID_TRANSITION")
    problem = error(gql(api_client, FINISH, operator, input={"id": snapshot}))
    assert problem["code"] == "INVALID_TRANSITION"

    finished = data(gql(api_client, FINISH, operator, input={"id": deployment_id}))
    shown = finished["finishDeployment"]
    assert (shown["status"], shown["finishing"]) == ("RUNNING", True)  # its install runs on
    assert shown["decisions"][-1]["kind"] == "finished"
    again = api_client.post(f"{url}/finish", headers=as_operator)
    assert (again.status_code, again.json()["finishing"]) == (200, True)
    kinds = [d["kind"] for d in again.json()["decisions"]]
    assert kinds.count("finished") == 1

    [execution] = api_client.get(f"{url}/executions", headers=as_operator).json()["items"]
    report = ReportUpdate(
        device_id=device,
        execution_id=execution["id"],
        seq=1,
        status="succeeded",
        version="2.0.0",
        at=datetime.now(UTC),
    )
    meta = EventMetadata(tenant, f"device:{device}")
    api_system.deployment_service.report_update(report, meta)
    completed = shown_when(api_client, operator, url, "COMPLETED", True)
    assert (completed["status"], completed["finishing"]) == ("COMPLETED", True)
    late = api_client.post(f"{url}/finish", headers=as_operator)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "DEPLOYMENT_FINISHED")
