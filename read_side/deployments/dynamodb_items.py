"""The deployments model's DynamoDB tables and items: each row's attributes derived from its
dataclass (`DynamoDBItemCodec`, containers as JSON text), plus the key attributes its table and
indexes need, every one starting with the tenant:

- `{prefix}deployments`: `tenant_id`, `deployment_id`; index `by_created` (`tenant_id`,
  `created_key` = `deployment_key`, listed newest first);
- `{prefix}deployment_executions`: `tenant_id`, `execution_id`; indexes `by_deployment`
  (`tenant_deployment`, `device_key` = device id and purpose) and `by_device`
  (`tenant_device`, `queued_key` = `device_execution_key`, newest first);
- `{prefix}deployment_transitions`: `tenant_execution`, `version` (N): an execution's history;
- `{prefix}device_compliance`: `tenant_id`, `device_id`.
"""

from __future__ import annotations

from typing import Any

from event_store.dynamodb.tables import table_spec
from read_side.deployments.port import deployment_key, device_execution_key, execution_key
from read_side.deployments.row import (
    DeploymentRow,
    DeviceComplianceRow,
    ExecutionRow,
    TransitionRow,
)
from read_side.dynamodb_items import DynamoDBItemCodec

DEPLOYMENTS = DynamoDBItemCodec(DeploymentRow, json_containers=True)
EXECUTIONS = DynamoDBItemCodec(ExecutionRow, json_containers=True)
TRANSITIONS = DynamoDBItemCodec(TransitionRow, json_containers=True)
DEVICES = DynamoDBItemCodec(DeviceComplianceRow, json_containers=True)
SUFFIXES = ("deployments", "deployment_executions", "deployment_transitions", "device_compliance")
KEYS = {
    "deployments": ("tenant_id", "deployment_id"),
    "deployment_executions": ("tenant_id", "execution_id"),
    "deployment_transitions": ("tenant_execution", "version"),
    "device_compliance": ("tenant_id", "device_id"),
}


def specs(prefix: str) -> list[dict[str, Any]]:
    return [
        table_spec(
            f"{prefix}deployments",
            "tenant_id",
            "deployment_id",
            indexes={"by_created": ("tenant_id", "created_key")},
        ),
        table_spec(
            f"{prefix}deployment_executions",
            "tenant_id",
            "execution_id",
            indexes={
                "by_deployment": ("tenant_deployment", "device_key"),
                "by_device": ("tenant_device", "queued_key"),
            },
        ),
        table_spec(
            f"{prefix}deployment_transitions", "tenant_execution", "version", range_type="N"
        ),
        table_spec(f"{prefix}device_compliance", "tenant_id", "device_id"),
    ]


def s(value: str) -> dict[str, str]:
    return {"S": value}


def deployment_item(row: DeploymentRow) -> dict[str, Any]:
    return DEPLOYMENTS.to_item(row) | {"created_key": s(deployment_key(row))}


def execution_item(row: ExecutionRow) -> dict[str, Any]:
    t = row.tenant_id
    return EXECUTIONS.to_item(row) | {
        "tenant_deployment": s(f"{t}#{row.deployment_id.hex}"),
        "device_key": s(execution_key(row)),
        "tenant_device": s(f"{t}#{row.device_id.hex}"),
        "queued_key": s(device_execution_key(row)),
    }


def transition_item(row: TransitionRow) -> dict[str, Any]:
    return TRANSITIONS.to_item(row) | {
        "tenant_execution": s(f"{row.tenant_id}#{row.execution_id.hex}")
    }


def device_item(row: DeviceComplianceRow) -> dict[str, Any]:
    return DEVICES.to_item(row)
