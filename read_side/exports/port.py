"""The exports model's ports: the query the API asks (`ExportsReader`) and the writes the
projection commits through (`ExportsView`), beside the adapters (`sqlite`, `dynamodb`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.exports.row import ExportRow

__all__ = ["EXPORT_TOPIC", "ExportsReader", "ExportsView"]

EXPORT_TOPIC = "export"  # the change notices' topic (`exportProgress`)


class ExportsReader(ABC):
    @abstractmethod
    def get(self, tenant_id: str, export_id: UUID) -> ExportRow | None:
        """The export; None when there is none, or it is another tenant's."""


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
