"""The exports worker (docs/analytics.md 20.5): a consumer of `Export.Requested` that writes
each export's file into the blob store, chunk by chunk, and records its progress and its end
on the export's stream (`ExportService`).

`Exporter.run` is the whole job, also run in process by `fleetwatch export`: it skips an
export already final (a restart after `Completed` recorded and before the checkpoint), streams
the rows (`projections.export_sources`) into a chunked file (`projections.export_files`),
records `Progressed` every `progress_every` chunks (never more than one per chunk; a
telemetry export as Parquet is written by DuckDB at once, `ParquetFile.copy`: one), stops at
the budget `max_rows` or `max_bytes` with `Failed` naming it (the blob written so far is
aborted), and records `Completed` with the blob's key. An unexpected error fails the export
too (its reason says so), so a request never stays pending behind a poisoned event.
`ExportProcess` is the worker's projection: it runs each request, then commits its checkpoint
in a tracking table of the store (as the Parquet writer does); a crash in between runs the
export again from its start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder

from event_store.envelope import EventEnvelope, EventMetadata
from ota.errors import BlobTooLarge
from ota.port import BlobStore
from projections.export_files import ChunkedFile, ParquetFile, open_file
from projections.export_sources import COLUMNS, ExportSources, ReportsUnavailable
from read_side.notifications import ChangeNotice
from write_side.errors import DomainError
from write_side.export_service import ExportFile, ExportService
from write_side.exports import EXPORT_REQUESTED, Export, ExportFinished, ExportKind

log = logging.getLogger(__name__)
ACTOR = "system:exports"
Progress = Callable[[Export], None]


class ExportBudgetExceeded(DomainError):
    code = "EXPORT_BUDGET_EXCEEDED"


@dataclass(frozen=True)
class ExportBudgets:
    max_rows: int = 10_000_000
    max_bytes: int = 2 * 1024**3
    chunk_rows: int = 50_000
    progress_every: int = 1  # chunks between two progress events


class Exporter:
    def __init__(
        self,
        service: ExportService,
        sources: ExportSources,
        blobs: BlobStore,
        budgets: ExportBudgets | None = None,
    ) -> None:
        self.service, self.sources, self.blobs = service, sources, blobs
        self.budgets = budgets or ExportBudgets()

    def run(self, tenant_id: str, export_id: UUID, progress: Progress | None = None) -> Export:
        """Write the export's file and record its end; the export as recorded last."""
        export = self.service.get(tenant_id, export_id)
        if export.final:
            return export
        meta = EventMetadata(tenant_id, ACTOR, causation_id=str(export_id))
        try:
            written = self._write(export, meta, progress)
            done = self.service.complete(export_id, written, meta).aggregate
        except ExportFinished:  # another runner ended it meanwhile: its end stands
            return self.service.get(tenant_id, export_id)
        except (ExportBudgetExceeded, ReportsUnavailable, BlobTooLarge) as e:
            reason = f"budget max_bytes: {e.message}" if isinstance(e, BlobTooLarge) else e.message
            return self.service.fail(export_id, reason, meta).aggregate
        except Exception as e:
            log.exception("export %s failed", export_id)
            return self.service.fail(
                export_id, f"internal error: {type(e).__name__}", meta
            ).aggregate
        if progress is not None:
            progress(done)
        return done

    def _write(self, export: Export, meta: EventMetadata, progress: Progress | None) -> ExportFile:
        budgets = self.budgets
        with self.blobs.open_writer(export.tenant_id, max_bytes=budgets.max_bytes) as blob:
            file = open_file(export.format, blob, COLUMNS[export.kind], heading(export))
            try:
                if (
                    isinstance(file, ParquetFile)
                    and export.kind is ExportKind.TELEMETRY
                    and (query := self.sources.telemetry_query(export)) is not None
                ):  # DuckDB writes the rows into the file itself: one progress event
                    rows = file.copy(*query, limit=budgets.max_rows + 1)
                    self._within(rows)
                    self._progress(export, rows, 0, meta, progress)
                else:
                    rows = self._add_chunks(export, file, meta, progress)
                file.finish()
            finally:
                file.close()
            info = blob.commit()
        return ExportFile(info.key, rows, info.size, info.sha256 or "")

    def _add_chunks(
        self, export: Export, file: ChunkedFile, meta: EventMetadata, progress: Progress | None
    ) -> int:
        """The rows of the export's source added to `file` chunk by chunk; how many."""
        budgets, rows = self.budgets, 0
        for chunks, chunk in enumerate(self.sources.chunks(export, budgets.chunk_rows), 1):
            rows += len(chunk)
            self._within(rows)
            file.add(chunk)
            if chunks % budgets.progress_every == 0:
                self._progress(export, rows, file.size, meta, progress)
        return rows

    def _progress(
        self, export: Export, rows: int, size: int, meta: EventMetadata, progress: Progress | None
    ) -> None:
        saved = self.service.progress(export.id, rows, size, meta)
        if progress is not None:
            progress(saved.aggregate)

    def _within(self, rows: int) -> None:
        if rows > self.budgets.max_rows:
            raise ExportBudgetExceeded(
                f"budget max_rows: the export has more than {self.budgets.max_rows} rows; "
                "narrow the range or the devices"
            )


def heading(export: Export) -> tuple[str, str]:
    """A report page's title and subtitle: its tenant and scope, its range."""
    scope = f"tag {export.tag}" if export.tag else (
        f"{len(export.device_ids)} devices" if export.device_ids else "all devices"
    )  # fmt: skip
    last = export.end - timedelta(microseconds=1)
    span = f"{export.start:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)"
    return (
        f"Fleet report: {export.tenant_id}, {scope}",
        f"{span}. Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
    )


class ExportProcess:
    """The worker's projection: each `Export.Requested` run to its end, then the checkpoint."""

    name = "exporter"
    topics = (EXPORT_REQUESTED.topic,)

    def __init__(self, exporter: Exporter, checkpoints: TrackingRecorder) -> None:
        self.exporter = exporter
        self.checkpoints = checkpoints

    def handles(self, topic: str) -> bool:
        return topic == EXPORT_REQUESTED.topic

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        for envelope in envelopes:
            if envelope.payload.get("runner", "worker") == "worker":  # not the CLI's own
                self.exporter.run(envelope.tenant_id, UUID(envelope.stream_id))
        self.checkpoints.insert_tracking(tracking)
        return []
