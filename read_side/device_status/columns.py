"""The stored forms of the device-status row (`row.DeviceStatus`), each derived from its fields
by the read side's codecs (`read_side.columns`): the SQLite table's columns and rows
(`SQLITE_ROWS`), the DynamoDB items (`to_item`, `ITEMS`) and the change notices' JSON
(`STATUS_JSON`). A field added to the row is stored, read back and notified with no other edit.

The row's own choices are declared on its fields: `last_values_at` is kept in the column of
`last_values` (`read_side.columns.stored_with`) and `metadata` is free-form JSON read exactly.
"""

from __future__ import annotations

from read_side.columns import JsonCodec
from read_side.device_status.row import DeviceStatus
from read_side.dynamodb_items import Attribute, DynamoDBItemCodec
from read_side.sqlite_rows import SQLiteRowCodec

STATUS_JSON = JsonCodec(DeviceStatus)
SQLITE_ROWS = SQLiteRowCodec(DeviceStatus)
ITEMS = DynamoDBItemCodec(DeviceStatus)


def to_item(status: DeviceStatus) -> dict[str, Attribute]:
    """The low-level (client) item of a row, with `name_lc`, the case-folded name the
    `nameContains` filter reads (not a field)."""
    item = ITEMS.to_item(status)
    item["name_lc"] = {"S": status.name.casefold()}
    return item
