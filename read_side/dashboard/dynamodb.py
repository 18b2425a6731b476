"""The dashboard model on DynamoDB: tables `{prefix}dashboard_devices` (key `tenant_id`,
`device_id`), `{prefix}dashboard_alerts` (`tenant_id`, `alert_id`) and
`{prefix}dashboard_figures` (`tenant_id`, `key`; a counter or sum in `v` (N), a top-N list as
JSON in `doc` (S)).

The writer commits each `DashboardCommit` as ONE TransactWriteItems: the row Puts, one
`ADD v :delta` Update per figure, one `SET doc` per top-N list, and the checkpoint moved with a
compare-and-set (`n = :after`, or no item yet): the deltas are not idempotent, so the commit
must land exactly once, and only after the one it continues. The projection sizes its commits
to `max_writes` (98 + the checkpoint = 99 actions). Each figure is written at most once per
commit by the one active worker, whatever the devices' rate, so no item is hot.

The reader answers one dashboard with four Queries on the tenant's partition of the figures
table, one per key range of `read_side.dashboard.keys` (each bounded, none depending on the
number of devices), strongly consistent, sent together from a pool of four threads."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.client import n
from event_store.dynamodb.parts import commit_part
from event_store.dynamodb.tables import table_spec
from event_store.tracking import AlreadyTracked
from read_side.dashboard.keys import KeyRange
from read_side.dashboard.port import CheckpointMoved, DashboardReader, DashboardView
from read_side.dashboard.row import AlertFacts, DashboardCommit, DeviceFacts, Top
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.dynamodb_tables import batch_get, delete_all_items

DEVICES, ALERTS, FIGURES = "dashboard_devices", "dashboard_alerts", "dashboard_figures"
DEVICE_ITEMS = DynamoDBItemCodec(DeviceFacts)
ALERT_ITEMS = DynamoDBItemCodec(AlertFacts)


def _number(value: float) -> str:
    return str(Decimal(repr(float(value))))


def _top(doc: str) -> Top:
    return tuple((str(entity), int(count)) for entity, count in json.loads(doc))


class DynamoDBDashboardView(DynamoDBTrackingRecorder, DashboardView):
    """Build with `app.factory.tracking_recorder(DynamoDBDashboardView)`."""

    max_writes = 98

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        p = self.table_prefix
        return [
            *super().construct_extra_tables(),
            table_spec(f"{p}{DEVICES}", "tenant_id", "device_id"),
            table_spec(f"{p}{ALERTS}", "tenant_id", "alert_id"),
            table_spec(f"{p}{FIGURES}", "tenant_id", "key"),
        ]

    def commit(self, commit: DashboardCommit) -> None:
        p, tracking = self.table_prefix, commit.tracking
        update: dict[str, Any] = {
            "TableName": self.tracking_table_name,
            "Key": self.keys.tracking(tracking.application_name),
            "UpdateExpression": "SET n = :id",
            "ExpressionAttributeValues": {":id": n(tracking.notification_id)},
            "ConditionExpression": "attribute_not_exists(n)",
        }
        if commit.after is not None:
            update["ConditionExpression"] = "n = :after"
            update["ExpressionAttributeValues"][":after"] = n(commit.after)
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": f"{p}{DEVICES}", "Item": DEVICE_ITEMS.to_item(row)}}
            for row in commit.devices
        ]
        items += [
            {"Put": {"TableName": f"{p}{ALERTS}", "Item": ALERT_ITEMS.to_item(row)}}
            for row in commit.alerts
        ]
        items += [
            _figure_update(f"{p}{FIGURES}", tenant, key, "ADD v :x", {"N": _number(delta)})
            for (tenant, key), delta in commit.deltas.items()
        ]
        items += [
            _figure_update(f"{p}{FIGURES}", tenant, key, "SET doc = :x", {"S": _doc(top)})
            for (tenant, key), top in commit.tops.items()
        ]
        try:
            commit_part(self.client, self.datastore.retry_policy, {"Update": update}, items)
        except AlreadyTracked as e:  # the compare-and-set failed: covered, or moved elsewhere
            found = self.max_tracking_id(tracking.application_name)
            if found is not None and found >= tracking.notification_id:
                raise
            raise CheckpointMoved(f"checkpoint {found}, expected {commit.after}") from e
        except IntegrityError as e:  # no item of ours has a condition
            raise CheckpointMoved(str(e)) from e

    def reset(self, application_name: str) -> None:
        p = self.table_prefix
        delete_all_items(self.client, f"{p}{DEVICES}", ("tenant_id", "device_id"))
        delete_all_items(self.client, f"{p}{ALERTS}", ("tenant_id", "alert_id"))
        delete_all_items(self.client, f"{p}{FIGURES}", ("tenant_id", "key"))
        self.delete_tracking(application_name)


def _doc(top: Top) -> str:
    return json.dumps([list(entry) for entry in top])


def _figure_update(
    table: str, tenant: str, key: str, expression: str, value: dict[str, str]
) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": {"tenant_id": {"S": tenant}, "key": {"S": key}},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": {":x": value},
        }
    }


class DynamoDBDashboardReader(DashboardReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.devices_table = f"{table_prefix}{DEVICES}"
        self.alerts_table = f"{table_prefix}{ALERTS}"
        self.figures_table = f"{table_prefix}{FIGURES}"
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="dashboard-read")

    def devices(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceFacts]:
        keys = [{"tenant_id": {"S": tenant_id}, "device_id": {"S": i.hex}} for i in device_ids]
        rows = (DEVICE_ITEMS.from_item(item) for item in self._get(self.devices_table, keys))
        return {row.device_id: row for row in rows}

    def alerts(self, tenant_id: str, alert_ids: Sequence[UUID]) -> dict[UUID, AlertFacts]:
        keys = [{"tenant_id": {"S": tenant_id}, "alert_id": {"S": i.hex}} for i in alert_ids]
        rows = (ALERT_ITEMS.from_item(item) for item in self._get(self.alerts_table, keys))
        return {row.alert_id: row for row in rows}

    def counts(self, tenant_id: str, keys: Sequence[str]) -> dict[str, float]:
        found = self._get(self.figures_table, self._keys(tenant_id, keys))
        return {item["key"]["S"]: float(item["v"]["N"]) for item in found if "v" in item}

    def tops(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Top]:
        found = self._get(self.figures_table, self._keys(tenant_id, keys))
        return {item["key"]["S"]: _top(item["doc"]["S"]) for item in found if "doc" in item}

    def ranges(
        self, tenant_id: str, ranges: Sequence[KeyRange]
    ) -> tuple[dict[str, float], dict[str, Top]]:
        figures: dict[str, float] = {}
        tops: dict[str, Top] = {}
        # The Queries go out together: the read takes the slowest one, not their sum.
        pages = self._pool.map(lambda r: list(self._query(tenant_id, *r)), ranges)
        for items in pages:
            for item in items:
                key = item["key"]["S"]
                if "doc" in item:
                    tops[key] = _top(item["doc"]["S"])
                elif "v" in item:
                    figures[key] = float(item["v"]["N"])
        return figures, tops

    def _query(self, tenant_id: str, low: str, high: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.figures_table,
            KeyConditionExpression="tenant_id = :t AND #k BETWEEN :lo AND :hi",
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={
                ":t": {"S": tenant_id},
                ":lo": {"S": low},
                ":hi": {"S": high},
            },
            ConsistentRead=True,
        ):
            yield from page.get("Items", [])

    @staticmethod
    def _keys(tenant_id: str, keys: Sequence[str]) -> list[dict[str, Any]]:
        return [{"tenant_id": {"S": tenant_id}, "key": {"S": k}} for k in dict.fromkeys(keys)]

    def _get(self, table: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(batch_get(self.client, table, keys))
