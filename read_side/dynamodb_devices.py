"""Item codec and table definition of the device-status model on DynamoDB.

Table `{prefix}device_status`: partition key `tenant_id` (S), sort key `device_id` (S, hex), so a
tenant's devices are one item collection, listed in device-id order and paged by key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from read_side.device_status import DeviceStatus

TABLE_SUFFIX = "device_status"


def table_name(prefix: str) -> str:
    return f"{prefix}{TABLE_SUFFIX}"


def create_table_kwargs(prefix: str) -> dict[str, Any]:
    return {
        "TableName": table_name(prefix),
        "KeySchema": [
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "device_id", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "device_id", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def to_item(status: DeviceStatus) -> dict[str, Any]:
    """The low-level (client) item for a row."""
    item: dict[str, Any] = {
        "tenant_id": {"S": status.tenant_id},
        "device_id": {"S": status.device_id.hex},
        "name": {"S": status.name},
        "name_lc": {"S": status.name.casefold()},
        "device_type": {"S": status.device_type},
        "lifecycle": {"S": status.lifecycle},
        "tags": {"L": [{"S": tag} for tag in status.tags]},
        "metadata": {"M": {key: {"S": value} for key, value in status.metadata.items()}},
        "version": {"N": str(status.version)},
        "registered_at": {"S": status.registered_at.isoformat()},
        "updated_at": {"S": status.updated_at.isoformat()},
        "position": {"N": str(status.position)},
    }
    if status.decommissioned_at is not None:
        item["decommissioned_at"] = {"S": status.decommissioned_at.isoformat()}
    if status.decommission_reason is not None:
        item["decommission_reason"] = {"S": status.decommission_reason}
    return item


def from_item(item: dict[str, Any]) -> DeviceStatus:
    decommissioned_at = item.get("decommissioned_at")
    reason = item.get("decommission_reason")
    return DeviceStatus(
        device_id=UUID(hex=item["device_id"]["S"]),
        tenant_id=item["tenant_id"]["S"],
        name=item["name"]["S"],
        device_type=item["device_type"]["S"],
        tags=tuple(tag["S"] for tag in item["tags"]["L"]),
        metadata={key: value["S"] for key, value in item["metadata"]["M"].items()},
        lifecycle=item["lifecycle"]["S"],
        version=int(item["version"]["N"]),
        registered_at=datetime.fromisoformat(item["registered_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        decommissioned_at=(
            datetime.fromisoformat(decommissioned_at["S"]) if decommissioned_at else None
        ),
        decommission_reason=reason["S"] if reason else None,
        position=int(item["position"]["N"]),
    )
