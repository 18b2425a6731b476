"""The exports model's row: one per export, its fields the stored columns on both stores
(derived by `read_side.columns`). Times are the events' own; `object_key` is set once the
export completed (the link is made from it when asked, so it never goes stale in a row)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from read_side.alerts.rows import time_key

__all__ = ["ExportRow", "export_key", "listing_key", "progress_data"]


@dataclass(frozen=True)
class ExportRow:
    tenant_id: str
    export_id: UUID
    kind: str  # telemetry | events | report
    format: str  # csv | parquet | html (a report's)
    status: str  # REQUESTED | RUNNING | COMPLETED | FAILED
    start: datetime
    end: datetime
    device_ids: tuple[str, ...]
    requested_by: str
    requested_at: datetime
    rows: int
    size_bytes: int
    object_key: str | None
    sha256: str | None
    reason: str | None
    finished_at: datetime | None
    version: int  # the export stream's version absorbed (the row's guard)
    updated_at: datetime
    tag: str | None = None  # a report's scope: the devices of this tag (None: all, or the ids)
    # The listing's sort key, newest first (`export_key`), stored for the stores to order by;
    # always made from the fields (a value given, e.g. by `replace` or a store, is ignored).
    requested_key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "requested_key", export_key(self))


def export_key(row: ExportRow) -> str:
    """A tenant's exports are listed newest first by this key on both stores; their cursors
    carry it."""
    return listing_key(row.requested_at, row.export_id)


def listing_key(requested_at: datetime, export_id: UUID) -> str:
    """Request time, then id: `time_key`'s fixed-width UTC text, so text order is time order."""
    return f"{time_key(requested_at)}#{export_id.hex}"


def progress_data(row: ExportRow) -> dict[str, Any]:
    """The change notice's JSON-ready snapshot of the row (topic `export`)."""
    data = asdict(row)
    return {k: v if isinstance(v, (str, int, type(None))) else str(v) for k, v in data.items()}
