"""The firmware model on DynamoDB: the tables, their item codecs, the writer (the view) and the
reader, side by side.

Tables (every key starts with the tenant): `{prefix}firmware` (partition `tenant_id`, sort
`firmware_id`, hex: one item per release, one attribute per field of `FirmwareRow`);
`{prefix}firmware_index` (partition `tenant_scope` = "{tenant}#" for every release and
"{tenant}#{device type}" per compatible type, sort `list_key` = `release_key`: the listing,
each item a copy of the release's row); `{prefix}signing_keys` (partition `tenant_id`).

The writer: guarded Puts (only over a row of a lower stream version) and the checkpoint, a
release's items in one transaction, in parts of at most 99 items (`write_parts_with_tracking`,
as the users model). The reader reads strongly consistent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import MAX_PART_ITEMS, guarded_put
from event_store.dynamodb.tables import table_spec
from read_side.alerts.dynamodb_query import paged
from read_side.alerts.port import decode_cursor
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.dynamodb_pages import query_page
from read_side.dynamodb_tables import delete_all_items, get_one
from read_side.firmware.port import (
    FIRMWARE_CURSOR,
    FirmwareChanges,
    FirmwareFilter,
    FirmwareReader,
    FirmwareView,
    release_key,
)
from read_side.firmware.row import FirmwareRow, SigningKeysRow
from read_side.paging import Page, check_page_size
from write_side.firmware_states import FirmwareStatus

RELEASES, INDEX, KEYS = "firmware", "firmware_index", "signing_keys"
RELEASE_ITEMS = DynamoDBItemCodec(FirmwareRow, json_containers=True)
KEYS_ITEMS = DynamoDBItemCodec(SigningKeysRow, json_containers=True)


def table_names(prefix: str) -> tuple[str, str, str]:
    return f"{prefix}{RELEASES}", f"{prefix}{INDEX}", f"{prefix}{KEYS}"


def group_parts(groups: Sequence[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Groups of items (each written together) packed in order into parts that fit one
    transaction; one empty part for none."""
    parts: list[list[dict[str, Any]]] = [[]]
    for group in groups:
        if len(parts[-1]) + len(group) > MAX_PART_ITEMS:
            parts.append([])
        parts[-1].extend(group)
    return parts


class DynamoDBFirmwareView(DynamoDBTrackingRecorder, FirmwareView):
    """Build with `app.factory.tracking_recorder(DynamoDBFirmwareView)` (shares client, prefix)."""

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        releases, index, keys = table_names(self.table_prefix)
        return [
            *super().construct_extra_tables(),
            table_spec(releases, "tenant_id", "firmware_id"),
            table_spec(index, "tenant_scope", "list_key"),
            table_spec(keys, "tenant_id"),
        ]

    def commit(self, changes: FirmwareChanges, tracking: Tracking) -> None:
        releases, index, keys = table_names(self.table_prefix)
        groups = [
            [
                guarded_put(releases, RELEASE_ITEMS.to_item(row), "version"),
                *(
                    guarded_put(index, _index_item(row, scope), "version")
                    for scope in ("", *row.device_types)
                ),
            ]
            for row in changes.releases
        ]
        groups += [[guarded_put(keys, KEYS_ITEMS.to_item(row), "version")] for row in changes.keys]
        self.write_parts_with_tracking(tracking, group_parts(groups))

    def reset(self, application_name: str) -> None:
        releases, index, keys = table_names(self.table_prefix)
        delete_all_items(self.client, releases, ("tenant_id", "firmware_id"))
        delete_all_items(self.client, index, ("tenant_scope", "list_key"))
        delete_all_items(self.client, keys, ("tenant_id",))
        self.delete_tracking(application_name)


def _index_item(row: FirmwareRow, scope: str) -> dict[str, Any]:
    return RELEASE_ITEMS.to_item(row) | {
        "tenant_scope": {"S": f"{row.tenant_id}#{scope}"},
        "list_key": {"S": release_key(row)},
    }


class DynamoDBFirmwareReader(FirmwareReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.releases_table, self.index_table, self.keys_table = table_names(table_prefix)

    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRow | None:
        key = {"tenant_id": {"S": tenant_id}, "firmware_id": {"S": firmware_id.hex}}
        item = get_one(self.client, self.releases_table, key)
        return None if item is None else RELEASE_ITEMS.from_item(item)

    def releases(
        self, tenant_id: str, criteria: FirmwareFilter, first: int, after: str | None
    ) -> Page[FirmwareRow]:
        check_page_size(first)
        low = None if after is None else decode_cursor(FIRMWARE_CURSOR, after)
        found = self._query(tenant_id, criteria, low, first)
        return paged(found, first, release_key, FIRMWARE_CURSOR)

    def latest(self, tenant_id: str, device_type: str) -> FirmwareRow | None:
        criteria = FirmwareFilter(device_type=device_type, status=FirmwareStatus.AVAILABLE)
        low: str | None = None
        while True:  # past a long run of withdrawn releases, the budget may cut a page short
            found, stopped_at = self._query(tenant_id, criteria, low, 1)
            if found or stopped_at is None:
                return found[0][1] if found else None
            low = stopped_at

    def signing_keys(self, tenant_id: str) -> SigningKeysRow | None:
        item = get_one(self.client, self.keys_table, {"tenant_id": {"S": tenant_id}})
        return None if item is None else KEYS_ITEMS.from_item(item)

    def _query(
        self, tenant_id: str, criteria: FirmwareFilter, low: str | None, first: int
    ) -> tuple[list[tuple[str, FirmwareRow]], str | None]:
        return query_page(
            self.client,
            table=self.index_table,
            index=None,
            hash_key=("tenant_scope", f"{tenant_id}#{criteria.device_type or ''}"),
            range_name="list_key",
            after=low,
            forward=True,
            first=first,
            read=RELEASE_ITEMS.from_item,
            matches=criteria.matches,
        )
