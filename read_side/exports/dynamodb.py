"""The exports model on DynamoDB: table `{prefix}exports` (partition `tenant_id`, sort
`export_id`, hex; index `by_requested`: `tenant_id`, `requested_key`, listed newest first),
one attribute per field of `ExportRow`; its writer (guarded Puts, only over
a row of a lower export stream version, and the checkpoint, in parts of at most 99 items:
`write_parts_with_tracking`, as the users model) and its reader (strongly consistent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import guarded_put, split
from event_store.dynamodb.tables import table_spec
from read_side.alerts.dynamodb_query import paged
from read_side.alerts.port import decode_cursor
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.dynamodb_pages import query_page
from read_side.dynamodb_tables import delete_all_items, get_one
from read_side.exports.port import EXPORTS_CURSOR, ExportFilter, ExportsReader, ExportsView
from read_side.exports.row import ExportRow, export_key
from read_side.paging import Page, check_page_size

TABLE_SUFFIX = "exports"
BY_REQUESTED = "by_requested"
ITEMS = DynamoDBItemCodec(ExportRow, json_containers=True)


def table_name(prefix: str) -> str:
    return f"{prefix}{TABLE_SUFFIX}"


class DynamoDBExportsView(DynamoDBTrackingRecorder, ExportsView):
    """Build with `app.factory.tracking_recorder(DynamoDBExportsView)` (shares client, prefix)."""

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        spec = table_spec(
            table_name(self.table_prefix), "tenant_id", "export_id",
            indexes={BY_REQUESTED: ("tenant_id", "requested_key")},
        )  # fmt: skip
        return [*super().construct_extra_tables(), spec]

    def save_many(self, rows: Sequence[ExportRow], tracking: Tracking) -> None:
        table = table_name(self.table_prefix)
        puts = [guarded_put(table, ITEMS.to_item(row), "version") for row in rows]
        self.write_parts_with_tracking(tracking, split(puts))

    def reset(self, application_name: str) -> None:
        delete_all_items(self.client, table_name(self.table_prefix), ("tenant_id", "export_id"))
        self.delete_tracking(application_name)


class DynamoDBExportsReader(ExportsReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.table = table_name(table_prefix)

    def get(self, tenant_id: str, export_id: UUID) -> ExportRow | None:
        key = {"tenant_id": {"S": tenant_id}, "export_id": {"S": export_id.hex}}
        item = get_one(self.client, self.table, key)
        return None if item is None else ITEMS.from_item(item)

    def exports(
        self, tenant_id: str, criteria: ExportFilter, first: int, after: str | None
    ) -> Page[ExportRow]:
        check_page_size(first)
        low = None if after is None else decode_cursor(EXPORTS_CURSOR, after)
        found = query_page(
            self.client, table=self.table, index=BY_REQUESTED, hash_key=("tenant_id", tenant_id),
            range_name="requested_key", after=low, forward=False, first=first,
            read=ITEMS.from_item, matches=criteria.matches,
        )  # fmt: skip
        return paged(found, first, export_key, EXPORTS_CURSOR)
