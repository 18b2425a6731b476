"""The exports slice's command handlers (docs/analytics.md 20.5), in the style of every slice
(docs/write-side.md 3.1): load (or create), decide (an aggregate method), `commit`.

`request` is the people's command: it checks the range budget and that every named device is
the caller's own (`owned`: the device-status model's answer), so an export of another tenant's
devices is `NOT_FOUND` (the answer for an unknown id: no existence leak) and nothing is stored.
`progress`, `complete` and `fail` are the exports worker's; each is safe to re-decide
(`retried`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved, retried
from write_side.errors import NotFound
from write_side.exports import Export, ExportFormat, ExportKind

Owned = Callable[[str, Sequence[UUID]], set[UUID]]  # (tenant, ids) -> those that are its own


@dataclass(frozen=True)
class RequestExport:
    """Telemetry or events of the caller's tenant over `[start, end)` (devices: all, or
    these)."""

    kind: ExportKind
    format: ExportFormat
    start: datetime
    end: datetime
    device_ids: Sequence[UUID] = field(default_factory=tuple)
    in_process: bool = False  # the caller runs it (`fleetwatch export`), not the worker
    tag: str | None = None  # a report's scope (20.4): the devices of this tag


@dataclass(frozen=True)
class ExportFile:
    """What the worker wrote: the blob's key, its rows, size and SHA-256."""

    key: str
    rows: int
    size: int
    sha256: str


class ExportService:
    def __init__(
        self,
        app: FleetApplication,
        owned: Owned,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.owned = owned
        self.clock = clock or (lambda: datetime.now(UTC))

    def request(self, command: RequestExport, meta: EventMetadata) -> Saved[Export]:
        export = Export.request(
            tenant_id=meta.tenant_id,
            kind=command.kind,
            format=command.format,
            start=command.start,
            end=command.end,
            device_ids=list(command.device_ids),
            requested_by=meta.actor,
            at=self.clock(),
            runner="caller" if command.in_process else "worker",
            tag=command.tag,
        )
        if export.device_ids:
            missing = set(export.device_ids) - self.owned(meta.tenant_id, export.device_ids)
            if missing:
                raise NotFound(f"device {min(missing)} not found")
        return self.app.commit(export, meta)

    def progress(self, export_id: UUID, rows: int, size: int, meta: EventMetadata) -> Saved[Export]:
        return self._change(export_id, lambda e: e.progress(rows, size, self.clock()), meta)

    def complete(self, export_id: UUID, file: ExportFile, meta: EventMetadata) -> Saved[Export]:
        def decide(export: Export) -> None:
            export.complete(file.rows, file.size, file.key, file.sha256, self.clock())

        return self._change(export_id, decide, meta)

    def fail(self, export_id: UUID, reason: str, meta: EventMetadata) -> Saved[Export]:
        return self._change(export_id, lambda e: e.fail(reason, self.clock()), meta)

    def get(self, tenant_id: str, export_id: UUID) -> Export:
        return self.app.load(Export, tenant_id, export_id)

    def _change(
        self, export_id: UUID, decide: Callable[[Export], None], meta: EventMetadata
    ) -> Saved[Export]:
        def attempt() -> Saved[Export]:
            export = self.get(meta.tenant_id, export_id)
            decide(export)
            return self.app.commit(export, meta)

        return retried(attempt, retry=True)
