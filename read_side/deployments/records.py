"""The JSON form of a `deployment` change notice's data (topic `DEPLOYMENT_TOPIC`), written by
the projection and read by the `deploymentProgress` subscription: the deployment's row after
the event and, for an execution's event, the execution's row (`JsonCodec`: UUIDs as text,
times in ISO 8601)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from read_side.columns import JsonCodec
from read_side.deployments.row import DeploymentRow, ExecutionRow

__all__ = ["progress_data", "progress_rows"]

_DEPLOYMENT = JsonCodec(DeploymentRow)
_EXECUTION = JsonCodec(ExecutionRow)


def progress_data(deployment: DeploymentRow, execution: ExecutionRow | None) -> dict[str, Any]:
    return {
        "deployment": _DEPLOYMENT.to_json(deployment),
        "execution": None if execution is None else _EXECUTION.to_json(execution),
    }


def progress_rows(data: Mapping[str, Any]) -> tuple[DeploymentRow, ExecutionRow | None]:
    execution = data.get("execution")
    return (
        _DEPLOYMENT.from_json(data["deployment"]),
        None if execution is None else _EXECUTION.from_json(execution),
    )
