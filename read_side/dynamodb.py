"""DynamoDB readers of the read models. Strongly consistent reads, so a caller that waited for
the projection (read-your-writes) sees the committed row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from read_side.device_status import (
    DeviceFilter,
    DeviceStatus,
    DeviceStatusReader,
    Page,
    check_page_size,
    decode_cursor,
    encode_cursor,
)
from read_side.dynamodb_devices import from_item, table_name

_GET_BATCH = 100  # BatchGetItem's limit of keys per call


def _filter_expression(device_filter: DeviceFilter) -> tuple[str | None, dict[str, Any]]:
    clauses: list[str] = []
    values: dict[str, Any] = {}
    if device_filter.lifecycle is not None:
        clauses.append("lifecycle = :lifecycle")
        values[":lifecycle"] = {"S": device_filter.lifecycle}
    if device_filter.device_type is not None:
        clauses.append("device_type = :device_type")
        values[":device_type"] = {"S": device_filter.device_type}
    if device_filter.tag is not None:
        clauses.append("contains(tags, :tag)")
        values[":tag"] = {"S": device_filter.tag}
    if device_filter.name_contains is not None:
        clauses.append("contains(name_lc, :name)")
        values[":name"] = {"S": device_filter.name_contains.casefold()}
    return (" AND ".join(clauses) or None), values


class DynamoDBDeviceStatusReader(DeviceStatusReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.table = table_name(table_prefix)

    def get(self, tenant_id: str, device_id: UUID) -> DeviceStatus | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"tenant_id": {"S": tenant_id}, "device_id": {"S": device_id.hex}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_many(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceStatus]:
        """BatchGetItem of at most 100 keys a call, strongly consistent, unprocessed keys
        retried."""
        hexes = list(dict.fromkeys(device_id.hex for device_id in device_ids))
        found: dict[UUID, DeviceStatus] = {}
        for start in range(0, len(hexes), _GET_BATCH):
            keys = [
                {"tenant_id": {"S": tenant_id}, "device_id": {"S": device_hex}}
                for device_hex in hexes[start : start + _GET_BATCH]
            ]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    status = from_item(item)
                    found[status.device_id] = status
                request = response.get("UnprocessedKeys") or {}
        return found

    def list(
        self, tenant_id: str, device_filter: DeviceFilter, first: int, after: str | None
    ) -> Page[DeviceStatus]:
        check_page_size(first)
        condition = "tenant_id = :tenant"
        values: dict[str, Any] = {":tenant": {"S": tenant_id}}
        if after is not None:
            condition += " AND device_id > :after"
            values[":after"] = {"S": decode_cursor(after).hex}
        filter_expression, filter_values = _filter_expression(device_filter)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {**values, **filter_values},
            "ConsistentRead": True,
            "Limit": first + 1,
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        items: list[DeviceStatus] = []
        while True:  # a filter applies after Limit: keep reading until a page is full
            response = self.client.query(**kwargs)
            items.extend(from_item(item) for item in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if len(items) > first or not last_key:
                break
            kwargs["ExclusiveStartKey"] = last_key
        page = items[:first]
        more = len(items) > first
        return Page(page, encode_cursor(page[-1].device_id) if more and page else None)
