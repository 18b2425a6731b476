"""DynamoDB writer of the alert read models: TransactWriteItems holding the rows and the
checkpoint. A batch needing more than one transaction keeps each alert's row with its timeline
entries, and puts the checkpoint on the last one (row guards make a replay harmless)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.commit import Built
from event_store.dynamodb.transact import run_transaction
from projections.alert_views import AlertsChanges, AlertsView
from projections.views.dynamodb_tables import delete_all_items
from read_side.alerts_dynamodb import (
    alert_item,
    create_table_kwargs,
    entry_item,
    name_item,
    rule_item,
    table_names,
)

MAX_ITEMS = 99  # one transaction: 100 actions, one of them the checkpoint


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
            unit = [self._put(tables["alerts"], alert_item(row))]
            unit += [
                self._put(tables["alert_timeline"], item)
                for item in entries.get((row.tenant_id, row.alert_id), [])
            ]
            units.append(unit)
        units += [[self._put(tables["alert_rules"], rule_item(r))] for r in changes.rules]
        units += [[self._put(tables["alert_device_names"], name_item(d))] for d in changes.devices]
        transactions: list[list[dict[str, Any]]] = [[]]
        for unit in units:
            if len(transactions[-1]) + len(unit) > MAX_ITEMS:
                transactions.append([])
            transactions[-1] += unit
        for items in transactions[:-1]:
            self._transact(items)
        self.write_with_tracking(tracking, transactions[-1])

    def _transact(self, items: list[dict[str, Any]]) -> None:
        built = Built(items, ["extra"] * len(items), [0] * len(items), 0, [None])
        run_transaction(self.client, lambda _: built, 0, self.datastore.retry_policy)

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
