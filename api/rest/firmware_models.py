"""REST pages and answers of the firmware and deployments slices (camelCase on the wire).

A release, a deployment and an execution as shown are `api.firmware_view`'s and
`api.deployment_view`'s, the one definitions GraphQL derives from too; the pages below are made
of them, and `DeploymentDetail` is REST's single deployment with the first page of its
executions (GraphQL reads them as `Deployment.executions`)."""

from __future__ import annotations

from pydantic import Field

from api.deployment_view import DeploymentPublic, ExecutionPublic
from api.firmware_view import FirmwarePublic
from api.rest.models import ItemsPage

DEPLOYMENT_EXAMPLE = {
    "name": "pumps to 2.1.0",
    "firmwareId": "6f1c2a4e-0000-4000-8000-000000000000",
    "target": {"deviceTypes": ["pump"]},
    "waves": [{"percent": 10}, {"approval": True}],  # the last takes the rest
    "rate": {"basePerMinute": 50},
}


class FirmwarePage(ItemsPage[FirmwarePublic]):
    pass


class DeploymentsPage(ItemsPage[DeploymentPublic]):
    pass


class ExecutionsPage(ItemsPage[ExecutionPublic]):
    pass


class DeploymentDetail(DeploymentPublic):
    executions: ExecutionsPage = Field(description="The first page of its executions.")
