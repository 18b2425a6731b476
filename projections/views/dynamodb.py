"""DynamoDB views: one TransactWriteItems per change holds the row Put and the checkpoint
condition + update, so a row change is never applied twice nor lost."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from projections.device_status import DeviceStatusView
from read_side.device_status import DeviceStatus
from read_side.dynamodb_devices import create_table_kwargs, table_name, to_item


class DynamoDBDeviceStatusView(DynamoDBTrackingRecorder, DeviceStatusView):
    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), create_table_kwargs(self.table_prefix)]

    def save(self, status: DeviceStatus, tracking: Tracking) -> None:
        put = {"Put": {"TableName": table_name(self.table_prefix), "Item": to_item(status)}}
        self.write_with_tracking(tracking, [put])

    def reset(self, application_name: str) -> None:
        table = table_name(self.table_prefix)
        paginator = self.client.get_paginator("scan")
        keys = [
            {"tenant_id": item["tenant_id"], "device_id": item["device_id"]}
            for page in paginator.paginate(
                TableName=table, ProjectionExpression="tenant_id, device_id", ConsistentRead=True
            )
            for item in page.get("Items", [])
        ]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            pending: dict[str, Any] = {table: requests}
            while pending:
                pending = self.client.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems", {}
                )
        self.delete_tracking(application_name)
