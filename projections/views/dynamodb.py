"""DynamoDB views: one TransactWriteItems per change holds the row Put and the checkpoint
condition + update, so a row change is never applied twice nor lost.

A batch of more than 99 actions is committed in parts, each guarded by the tracking item
(`write_parts_with_tracking`). The rows also carry their own guard, the feed position of the
last event they absorbed (every change moves it): a Put only replaces a row with a lower one,
so a lagging second worker whose part lands between a leading worker's parts, past the
tracking check, cannot take a row back (`event_store.dynamodb.parts` explains both guards).
The alert links have no such guard: they are only read to place later alert events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import guarded_put, split
from projections.device_status import AlertLinks, DeviceStatusView
from projections.views import device_alerts
from projections.views.dynamodb_tables import delete_all_items
from read_side.device_status import DeviceStatus
from read_side.dynamodb_devices import create_table_kwargs, table_name, to_item


class DynamoDBDeviceStatusView(DynamoDBTrackingRecorder, DeviceStatusView):
    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [
            *super().construct_extra_tables(),
            create_table_kwargs(self.table_prefix),
            device_alerts.dynamodb_table_kwargs(self.table_prefix),
        ]

    def save(self, status: DeviceStatus, tracking: Tracking) -> None:
        self.save_many([status], tracking)

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
        puts += device_alerts.dynamodb_actions(self.table_prefix, alert_links)
        self.write_parts_with_tracking(tracking, split(puts))

    def alert_devices(self, tenant_id: str, alert_ids: Sequence[str]) -> dict[str, UUID]:
        return device_alerts.dynamodb_read(self.client, self.table_prefix, tenant_id, alert_ids)

    def reset(self, application_name: str) -> None:
        delete_all_items(self.client, table_name(self.table_prefix), ("tenant_id", "device_id"))
        device_alerts.dynamodb_delete_all(self.client, self.table_prefix)
        self.delete_tracking(application_name)
