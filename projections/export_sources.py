"""Where an export's rows come from (docs/analytics.md 20.5), chunk by chunk, so that at most one
chunk of rows is in memory.

- Telemetry: DuckDB over the tenant's Parquet files of the days in range (20.2; only the
  tenant's own partition directories are listed, as the query path does), read with
  `fetchmany`; fresh to the Parquet writer's last flush. Rows in file order: day by day, each
  file by device, metric and time.
- Events: the event store's feed (`EventLog`) up to the head when the export started, of the
  tenant only, recorded in `[from, to)`; one row per event, its payload as JSON text.

Times are naive UTC (`TIMESTAMP` in Parquet, ISO 8601 with `Z` in CSV). Nothing here builds SQL
from data: the tenant, devices, files and times are parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from event_store.log import EventLog
from projections.report import REPORT_COLUMNS
from projections.report_source import ReportSources
from read_side.analytics import ParquetFiles
from write_side.errors import DomainError
from write_side.exports import Export, ExportKind

Row = tuple[Any, ...]
# Each kind's columns and their DuckDB types (the Parquet schema; the CSV header).
TELEMETRY_COLUMNS = (
    ("device_id", "VARCHAR"),
    ("device_type", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("ts", "TIMESTAMP"),
    ("value", "DOUBLE"),
    ("message_id", "VARCHAR"),
    ("received_at", "TIMESTAMP"),
)
EVENT_COLUMNS = (
    ("position", "BIGINT"),
    ("recorded_at", "TIMESTAMP"),
    ("occurred_at", "TIMESTAMP"),
    ("type", "VARCHAR"),
    ("stream_id", "VARCHAR"),
    ("version", "BIGINT"),
    ("actor", "VARCHAR"),
    ("payload", "VARCHAR"),
)
COLUMNS = {
    ExportKind.TELEMETRY: TELEMETRY_COLUMNS,
    ExportKind.EVENTS: EVENT_COLUMNS,
    ExportKind.REPORT: REPORT_COLUMNS,
}
_TELEMETRY = (
    "SELECT device_id, device_type, metric, ts, value, message_id, received_at "
    "FROM read_parquet($files, hive_partitioning = true) "
    "WHERE tenant_id = $tenant AND ts >= $start AND ts < $end"
)
_DEVICES = " AND device_id IN (SELECT unnest($devices))"


class ReportsUnavailable(DomainError):
    code = "REPORTS_UNAVAILABLE"


def naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ExportSources:
    """The sources: the telemetry files (None where analytics is not configured), the event
    log, and the read models a report reads (None: reports fail, saying so)."""

    files: ParquetFiles | None
    log: EventLog
    reports: ReportSources | None = None

    def chunks(self, export: Export, chunk_rows: int) -> Iterator[list[Row]]:
        if export.kind is ExportKind.TELEMETRY:
            return self.telemetry(export, chunk_rows)
        if export.kind is ExportKind.REPORT:
            if self.reports is None:
                raise ReportsUnavailable("reports are not configured in this process")
            return iter(self.reports.rows(export, chunk_rows))
        return self.events(export, chunk_rows)

    def telemetry(self, export: Export, chunk_rows: int) -> Iterator[list[Row]]:
        query = self.telemetry_query(export)
        if query is None:
            return
        import duckdb  # here, not at import: most processes never query (0.3 s)

        with duckdb.connect() as con:
            result = con.execute(*query)
            while chunk := result.fetchmany(chunk_rows):
                yield chunk

    def telemetry_query(self, export: Export) -> tuple[str, dict[str, Any]] | None:
        """The DuckDB query (and its parameters) of a telemetry export's rows; None when there
        are no files to read (no analytics here, or none of the tenant's days)."""
        if self.files is None:
            return None
        last = export.end - timedelta(microseconds=1)
        paths = self.files.tenant_files(export.tenant_id, export.start.date(), last.date())
        if not paths:
            return None
        params: dict[str, Any] = {
            "files": paths,
            "tenant": export.tenant_id,
            "start": naive(export.start),
            "end": naive(export.end),
        }
        sql = _TELEMETRY
        if export.device_ids:
            params["devices"] = [str(d) for d in export.device_ids]
            sql += _DEVICES
        return sql, params

    def events(self, export: Export, chunk_rows: int) -> Iterator[list[Row]]:
        chunk: list[Row] = []
        devices = {str(d) for d in export.device_ids}
        events = self.log.read_range(
            after=0, up_to=self.log.head(), tenant_id=export.tenant_id, page=chunk_rows
        )
        for e in events:
            if not export.start <= e.recorded_at < export.end:
                continue
            if devices and not devices & {e.stream_id, str(e.payload.get("device_id"))}:
                continue
            chunk.append((
                e.position, naive(e.recorded_at), naive(e.occurred_at), e.type, e.stream_id,
                e.version, e.actor, json.dumps(e.payload, default=str, sort_keys=True),
            ))  # fmt: skip
            if len(chunk) == chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
