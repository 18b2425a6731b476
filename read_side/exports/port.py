"""The exports model's ports: the query the API asks (`ExportsReader`) and the writes the
projection commits through (`ExportsView`), beside the adapters (`sqlite`, `dynamodb`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.exports.row import ExportRow
from read_side.paging import Page

__all__ = ["EXPORTS_CURSOR", "EXPORT_TOPIC", "ExportFilter", "ExportsReader", "ExportsView"]

EXPORT_TOPIC = "export"  # the change notices' topic (`exportProgress`)
EXPORTS_CURSOR = "exports"  # the kind of a listing's cursor (`read_side.alerts.encode_cursor`)


@dataclass(frozen=True)
class ExportFilter:
    """Which of a tenant's exports a listing shows (None: any)."""

    kind: str | None = None  # telemetry | events | report
    status: str | None = None  # REQUESTED | RUNNING | COMPLETED | FAILED

    def matches(self, row: ExportRow) -> bool:
        return self.kind in (None, row.kind) and self.status in (None, row.status)


class ExportsReader(ABC):
    @abstractmethod
    def get(self, tenant_id: str, export_id: UUID) -> ExportRow | None:
        """The export; None when there is none, or it is another tenant's."""

    @abstractmethod
    def exports(
        self, tenant_id: str, criteria: ExportFilter, first: int, after: str | None
    ) -> Page[ExportRow]:
        """The tenant's exports matching `criteria`, newest first (`export_key`), `first` at
        most, after the cursor `after` (a bad one: INVALID_INPUT on `after`)."""


class ExportsView(ABC):
    """Port for the projection's writes: rows and checkpoint commit together."""

    @abstractmethod
    def save_many(self, rows: Sequence[ExportRow], tracking: Tracking) -> None:
        """Upsert the rows (only over a lower version) and record `tracking`."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""
