"""The device-status model on DynamoDB: the table, its writer (the view) and its reader, side by
side.

Table `{prefix}device_status`: partition key `tenant_id` (S), sort key `device_id` (S, hex), so a
tenant's devices are one item collection, listed in device-id order and paged by key. The reader
reads strongly consistent, so a caller that waited for the projection (read-your-writes) sees
the committed row.

The writer: one TransactWriteItems per change holds the row Put and the checkpoint
condition + update, so a row change is never applied twice nor lost.

A batch of more than 99 actions is committed in parts, each guarded by the tracking item
(`write_parts_with_tracking`). The rows also carry their own guard, the feed position of the
last event they absorbed (every change moves it): a Put only replaces a row with a lower one,
so a lagging second worker whose part lands between a leading worker's parts, past the
tracking check, cannot take a row back (`event_store.dynamodb.parts` explains both guards).
The alert links have no such guard: they are only read to place later alert events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import guarded_put, split
from event_store.dynamodb.tables import table_spec
from read_side.device_status import alert_links as links
from read_side.device_status.columns import ITEMS, to_item
from read_side.device_status.port import (
    AlertLinks,
    DeviceFilter,
    DeviceStatusReader,
    DeviceStatusView,
    decode_cursor,
    encode_cursor,
)
from read_side.device_status.row import DeviceStatus
from read_side.dynamodb_tables import batch_get, delete_all_items, get_one
from read_side.paging import Page, check_page_size

TABLE_SUFFIX = "device_status"


def table_name(prefix: str) -> str:
    return f"{prefix}{TABLE_SUFFIX}"


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
        key = {"tenant_id": {"S": tenant_id}, "device_id": {"S": device_id.hex}}
        item = get_one(self.client, self.table, key)
        return ITEMS.from_item(item) if item else None

    def get_many(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceStatus]:
        """Strongly consistent BatchGetItem calls (`batch_get`)."""
        hexes = dict.fromkeys(device_id.hex for device_id in device_ids)
        keys = [{"tenant_id": {"S": tenant_id}, "device_id": {"S": h}} for h in hexes]
        found: dict[UUID, DeviceStatus] = {}
        for item in batch_get(self.client, self.table, keys):
            status = ITEMS.from_item(item)
            found[status.device_id] = status
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
            items.extend(ITEMS.from_item(item) for item in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if len(items) > first or not last_key:
                break
            kwargs["ExclusiveStartKey"] = last_key
        page = items[:first]
        more = len(items) > first
        return Page(page, encode_cursor(page[-1].device_id) if more and page else None)

    def online(self) -> Iterator[DeviceStatus]:
        """A Scan filtered on `online` (eventually consistent: the sweep decides on the
        device's own stream), page by page: the whole table's read units, every call."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "#online = :online",  # a reserved word
            "ExpressionAttributeNames": {"#online": "online"},
            "ExpressionAttributeValues": {":online": {"BOOL": True}},
        }
        while True:
            response = self.client.scan(**kwargs)
            yield from (ITEMS.from_item(item) for item in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key


class DynamoDBDeviceStatusView(DynamoDBTrackingRecorder, DeviceStatusView):
    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [
            *super().construct_extra_tables(),
            table_spec(table_name(self.table_prefix), "tenant_id", "device_id"),
            links.dynamodb_table_kwargs(self.table_prefix),
        ]

    def save_many(
        self,
        rows: Sequence[DeviceStatus],
        tracking: Tracking,
        alert_links: AlertLinks | None = None,
    ) -> None:
        """Transactions of at most 99 rows, each guarded by the tracking item; the checkpoint
        rides on the last one. If a crash falls between two, the replay skips what the
        committed rows absorbed (row guards)."""
        table = table_name(self.table_prefix)
        puts = [guarded_put(table, to_item(status), "position") for status in rows]
        puts += links.dynamodb_actions(self.table_prefix, alert_links)
        self.write_parts_with_tracking(tracking, split(puts))

    def alert_devices(self, tenant_id: str, alert_ids: Sequence[str]) -> dict[str, UUID]:
        return links.dynamodb_read(self.client, self.table_prefix, tenant_id, alert_ids)

    def reset(self, application_name: str) -> None:
        delete_all_items(self.client, table_name(self.table_prefix), ("tenant_id", "device_id"))
        links.dynamodb_delete_all(self.client, self.table_prefix)
        self.delete_tracking(application_name)
