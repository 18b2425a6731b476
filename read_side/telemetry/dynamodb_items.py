"""The telemetry model's DynamoDB tables, keys and item codecs, shared by its writer and its
reader (`read_side.telemetry.dynamodb`). Every key starts with the tenant.

`{prefix}telemetry_raw`: raw readings grouped, never one item per reading.

- `pk` (S) = `"{tenant}#{device_hex}"`,
  `sk` (S) = `"{hour_start_s:011d}#{version:012d}#{part:02d}"`: one item per (device, UTC
  hour, `BatchRecorded` event), holding every entry of that event whose device time falls in
  that hour (all metrics). Items are immutable, and their key is a
  function of the event alone, so writing one again (a replay, a retried transaction) is a
  no-op. `e` (B) = zlib(JSON `[[at_ms, message_id, {metric: value}], ...]`), `n` (N) entries.
  An event holds at most 500 entries (~60 KB of JSON), so an item stays far below 400 KB;
  `part` splits one anyway if its blob passes `MAX_BLOB_BYTES`.
- A time range is one Query on `sk BETWEEN "{first hour}#" AND "{last hour}#~"`, read in hour
  order: once an hour's items are all read, its readings are complete, so a page stops there.
- Is a message stored (`stored_keys`, for late redeliveries only)? Its device time names its
  hour: one Query of that hour's items (optionally only the events below a stream version, so
  an event never finds itself) and a decode of their blobs.

`{prefix}telemetry_rollups`: pre-aggregated buckets.

- `pk` (S) = `"{tenant}#{device_hex}#{metric}#{1m|1h|1d}"`, `sk` (N) = bucket start (epoch s);
  `mn`, `mx`, `sm` (S: Python float repr, exact and free of DynamoDB's N range limits, since
  a device may report any finite float), `ct` (N) count, `v` (N) the device's Telemetry stream
  version absorbed last (the guard that makes re-applying an event a no-op).
- A history read is one Query on `pk` with `sk BETWEEN`: O(buckets), whatever the raw volume.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

from event_store.dynamodb.tables import table_spec
from read_side.telemetry.row import Resolution, bucket_start

RAW_SUFFIX = "telemetry_raw"
ROLLUPS_SUFFIX = "telemetry_rollups"
HOUR = 3600
MAX_BLOB_BYTES = 300_000  # per raw item (DynamoDB's item limit is 400 KB)

RawRow = tuple[int, str, dict[str, float]]  # at_ms, message_id, metrics


def raw_table(prefix: str) -> str:
    return f"{prefix}{RAW_SUFFIX}"


def rollups_table(prefix: str) -> str:
    return f"{prefix}{ROLLUPS_SUFFIX}"


def create_tables_kwargs(prefix: str) -> list[dict[str, Any]]:
    return [
        table_spec(raw_table(prefix), "pk", "sk"),
        table_spec(rollups_table(prefix), "pk", "sk", range_type="N"),
    ]


def raw_pk(tenant_id: str, device_id: UUID) -> str:
    return f"{tenant_id}#{device_id.hex}"


def raw_sk(hour_s: int, version: int, part: int) -> str:
    return f"{hour_s:011d}#{version:012d}#{part:02d}"


def rollup_pk(tenant_id: str, device_id: UUID, metric: str, resolution: Resolution) -> str:
    return f"{tenant_id}#{device_id.hex}#{metric}#{resolution.value}"


def encode_raw(rows: Sequence[RawRow]) -> bytes:
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 6)


def decode_raw(blob: bytes) -> list[RawRow]:
    return [(int(r[0]), str(r[1]), r[2]) for r in json.loads(zlib.decompress(blob))]


def raw_items(
    tenant_id: str, device_id: UUID, version: int, rows: Sequence[RawRow]
) -> list[dict[str, Any]]:
    """The raw items of one event: one per UTC hour its entries fall in (split in parts only
    if an hour's blob would be too big)."""
    by_hour: dict[int, list[RawRow]] = {}
    for row in rows:
        by_hour.setdefault(bucket_start(row[0], HOUR), []).append(row)
    items = []
    pk = raw_pk(tenant_id, device_id)
    for hour, hour_rows in sorted(by_hour.items()):
        for part, blob in enumerate(_blobs(hour_rows)):
            items.append(
                {
                    "pk": {"S": pk},
                    "sk": {"S": raw_sk(hour, version, part)},
                    "e": {"B": blob},
                    "n": {"N": str(len(hour_rows))},
                }
            )
    return items


def _blobs(rows: Sequence[RawRow]) -> Iterator[bytes]:
    blob = encode_raw(rows)
    if len(blob) <= MAX_BLOB_BYTES or len(rows) == 1:
        yield blob
        return
    middle = len(rows) // 2
    yield from _blobs(rows[:middle])
    yield from _blobs(rows[middle:])


def stored_keys(
    client: Any,
    table: str,
    tenant_id: str,
    device_id: UUID,
    keys: Iterable[tuple[int, str]],
    *,
    below_version: int | None = None,
) -> set[tuple[int, str]]:
    """The (at_ms, message id) of `keys` in the device's raw items (of the events below
    `below_version` only, when given): one consistent Query per hour the keys fall in."""
    by_hour: dict[int, set[tuple[int, str]]] = {}
    for key in keys:
        by_hour.setdefault(bucket_start(key[0], HOUR), set()).add(key)
    if below_version is not None and below_version <= 1:
        return set()
    found: set[tuple[int, str]] = set()
    for hour, wanted in sorted(by_hour.items()):
        high = f"{hour:011d}#~" if below_version is None else raw_sk(hour, below_version - 1, 99)
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": raw_pk(tenant_id, device_id)},
                ":lo": {"S": f"{hour:011d}#"},
                ":hi": {"S": high},
            },
            "ProjectionExpression": "e",
            "ConsistentRead": True,
        }
        while True:
            response = client.query(**kwargs)
            for item in response.get("Items", []):
                found.update(row[:2] for row in decode_raw(item["e"]["B"]) if row[:2] in wanted)
            if not response.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return found


def stats_attributes(mn: float, mx: float, sm: float, ct: int, version: int) -> dict[str, Any]:
    return {
        "mn": {"S": repr(mn)},
        "mx": {"S": repr(mx)},
        "sm": {"S": repr(sm)},
        "ct": {"N": str(ct)},
        "v": {"N": str(version)},
    }


def item_stats(item: dict[str, Any]) -> tuple[float, float, float, int]:
    return (
        float(item["mn"]["S"]),
        float(item["mx"]["S"]),
        float(item["sm"]["S"]),
        int(item["ct"]["N"]),
    )
