"""The exports slice of the composition root (docs/analytics.md 20.5): the command handlers
(`ExportService`, devices checked against the device-status model), the exporter (sources:
the telemetry Parquet files and the event log; sink: the blob store) and the worker that runs
it for each `Export.Requested` (a fleet report, 20.4, is an export of kind `report`: its
sources add the alerts and firmware models), its checkpoint in a tracking table of the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from event_store.log import EventLog
from fleetwatch.settings import Settings
from ota.port import BlobStore
from projections.batching import BatchingProjectionWorker
from projections.export_sources import ExportSources
from projections.exports import Exporter, ExportProcess
from projections.report_source import ReportSources
from read_side.alerts import AlertReader
from read_side.analytics import ParquetFiles
from read_side.device_status import DeviceStatusReader
from read_side.exports import ExportsReader
from read_side.firmware import FirmwareReader
from write_side.application import FleetApplication
from write_side.export_service import ExportService


@dataclass(frozen=True)
class Exports:
    service: ExportService  # the commands
    exporter: Exporter  # the job, also run in process by `fleetwatch export`
    worker: BatchingProjectionWorker  # runs it for each request (consumer `exporter`)
    reader: ExportsReader  # the read model `exports`


def build_exports(
    app: FleetApplication,
    settings: Settings,
    devices: DeviceStatusReader,
    blobs: BlobStore,
    reader: ExportsReader,
    *,
    reports: tuple[AlertReader, FirmwareReader],
) -> Exports:
    def owned(tenant_id: str, ids: Sequence[UUID]) -> set[UUID]:
        return set(devices.get_many(tenant_id, list(ids)))

    service = ExportService(app, owned)
    log = EventLog(app.recorder, app.envelope_mapper)
    report_sources = ReportSources(devices, reports[1], reports[0], log)
    sources = ExportSources(ParquetFiles(settings.analytics_path), log, report_sources)
    exporter = Exporter(service, sources, blobs)
    checkpoints = app.factory.tracking_recorder()
    worker = BatchingProjectionWorker(
        ExportProcess(exporter, checkpoints),
        max_batch=10,
        checkpoints=checkpoints,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
    )
    return Exports(service, exporter, worker, reader)
