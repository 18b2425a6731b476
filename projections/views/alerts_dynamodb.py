"""DynamoDB writer of the alert read models: TransactWriteItems holding the rows and the
checkpoint. A batch needing more than one transaction keeps each alert's row with its timeline
entries, guards every part by the tracking item and records the checkpoint with the last one
(`write_parts_with_tracking`). Alert and rule rows only replace rows of a lower stream version,
and a timeline entry rides with its alert's row, so neither a replay nor a second worker's
interleaved parts take them back (`event_store.dynamodb.parts`). Device names have no version:
a lagging worker's part can still write an older name there."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import MAX_PART_ITEMS, guarded_put
from projections.alert_views import AlertsChanges, AlertsView
from read_side.alerts_dynamodb_items import (
    alert_item,
    create_table_kwargs,
    entry_item,
    name_item,
    rule_item,
    table_names,
)
from read_side.dynamodb_tables import delete_all_items

MAX_ITEMS = MAX_PART_ITEMS  # one transaction: 100 actions, one of them the tracking guard


class DynamoDBAlertsView(DynamoDBTrackingRecorder, AlertsView):
    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), *create_table_kwargs(self.table_prefix)]

    def commit(self, changes: AlertsChanges, tracking: Tracking) -> None:
        tables = table_names(self.table_prefix)
        units: list[list[dict[str, Any]]] = []
        entries: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        for entry in changes.entries:
            item = entry_item(entry)
            entries.setdefault((entry.tenant_id, entry.alert_id), []).append(item)
        for row in changes.alerts:
            unit = [guarded_put(tables["alerts"], alert_item(row), "version")]
            unit += [
                self._put(tables["alert_timeline"], item)
                for item in entries.get((row.tenant_id, row.alert_id), [])
            ]
            units.append(unit)
        units += [
            [guarded_put(tables["alert_rules"], rule_item(r), "version")] for r in changes.rules
        ]
        units += [[self._put(tables["alert_device_names"], name_item(d))] for d in changes.devices]
        transactions: list[list[dict[str, Any]]] = [[]]
        for unit in units:
            if len(transactions[-1]) + len(unit) > MAX_ITEMS:
                transactions.append([])
            transactions[-1] += unit
        self.write_parts_with_tracking(tracking, transactions)

    @staticmethod
    def _put(table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": table, "Item": item}}

    def reset(self, application_name: str) -> None:
        keys = {
            "alert_rules": "rule_id",
            "alerts": "alert_id",
            "alert_timeline": "sk",
            "alert_device_names": "device_id",
        }
        for suffix, table in table_names(self.table_prefix).items():
            delete_all_items(self.client, table, ("tenant_id", keys[suffix]))
        self.delete_tracking(application_name)
