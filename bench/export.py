"""Exports (docs/analytics.md 20.5): the exporter beside DuckDB's own COPY of the same rows.

    .venv/bin/python bench/export.py [--devices 20] [--minutes 5000] [--chunk 50000] [--json-only]

Workload: one tenant, `--devices` x `--minutes` readings (one metric, one a minute) written as
the telemetry Parquet files (`ParquetFiles.write`, the Parquet writer's layout), and as many of
another tenant. Measured, per format (CSV, Parquet): `Exporter.run` of the whole range into a
local blob store (an in-memory event store for the export's events), its rows/s and the peak of
Python's allocations during a second run (tracemalloc); baseline, same run: one DuckDB
`COPY (SELECT ... same filter) TO file` of the same rows. Prints one JSON document, then a
table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import duckdb  # noqa: E402

from event_store.envelope import EventMetadata  # noqa: E402
from event_store.log import EventLog  # noqa: E402
from ota.local_blobs import LocalBlobStore  # noqa: E402
from projections.export_sources import ExportSources  # noqa: E402
from projections.exports import ExportBudgets, Exporter  # noqa: E402
from read_side.analytics import ParquetFiles  # noqa: E402
from read_side.analytics.files import TelemetryRows  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402
from write_side.export_service import ExportService, RequestExport  # noqa: E402
from write_side.exports import ExportFormat, ExportKind  # noqa: E402

FORMATS = (ExportFormat.CSV, ExportFormat.PARQUET)  # a telemetry export's (html: reports)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
META = EventMetadata("acme", "user:bench")
COPY = (
    "COPY (SELECT device_id, device_type, metric, ts, value, message_id, received_at "
    "FROM read_parquet({files}, hive_partitioning = true) WHERE tenant_id = 'acme' "
    "AND ts >= $start AND ts < $end) TO '{out}' ({options})"
)


def generate(files: ParquetFiles, tenant: str, devices: int, minutes: int, position: int) -> None:
    for d in range(devices):
        rows = TelemetryRows()
        device = str(uuid.UUID(int=d + 1 + position * 1000))
        for i in range(minutes):
            rows.tenant_id.append(tenant)
            rows.device_id.append(device)
            rows.device_type.append("boiler")
            rows.metric.append("temp")
            rows.ts_ms.append(int((T0 + timedelta(minutes=i)).timestamp() * 1000))
            rows.value.append(i / 4)
            rows.message_id.append(f"m{i}")
            rows.received_ms.append(int(T0.timestamp() * 1000))
            rows.position.append(position * 1000 + d)
            rows.late.append(False)
        files.write(rows, position * 1000 + d, position * 1000 + d)


def owned(_tenant: str, ids: Sequence[UUID]) -> set[UUID]:
    return set(ids)


def export_once(
    work: Path, files: ParquetFiles, fmt: ExportFormat, end: datetime, chunk: int
) -> tuple[float, int, int]:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        service = ExportService(app, owned)
        sources = ExportSources(files, EventLog(app.recorder, app.envelope_mapper))
        blobs = LocalBlobStore(work / f"blobs-{uuid.uuid4().hex[:6]}", url_secret=b"bench")
        exporter = Exporter(service, sources, blobs, ExportBudgets(chunk_rows=chunk))
        command = RequestExport(ExportKind.TELEMETRY, fmt, T0, end)
        export = service.request(command, META).aggregate
        began = time.perf_counter()
        done = exporter.run("acme", export.id)
        return time.perf_counter() - began, done.rows, done.bytes
    finally:
        app.close()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    files = ParquetFiles(work / "analytics")
    generate(files, "acme", args.devices, args.minutes, 1)
    generate(files, "other", args.devices, args.minutes, 2)
    end = T0 + timedelta(minutes=args.minutes)
    paths = files.tenant_files("acme", T0.date(), end.date())
    results: dict[str, Any] = {"rows": args.devices * args.minutes, "chunk_rows": args.chunk}
    for fmt in FORMATS:
        seconds, rows, size = export_once(work, files, fmt, end, args.chunk)
        tracemalloc.start()
        export_once(work, files, fmt, end, args.chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out = work / f"baseline.{fmt}"
        options = (
            "FORMAT PARQUET, COMPRESSION ZSTD"
            if fmt is ExportFormat.PARQUET
            else "FORMAT CSV, HEADER"
        )
        sql = COPY.format(
            files="[" + ", ".join(f"'{p}'" for p in paths) + "]", out=out, options=options
        )
        began = time.perf_counter()
        duckdb.execute(sql, {"start": T0.replace(tzinfo=None), "end": end.replace(tzinfo=None)})
        baseline = time.perf_counter() - began
        results[fmt.value] = {
            "exporter_rows": rows,
            "exporter_seconds": round(seconds, 3),
            "exporter_rows_per_s": round(rows / seconds),
            "exporter_bytes": size,
            "exporter_peak_python_mib": round(peak / 2**20, 2),
            "duckdb_copy_seconds": round(baseline, 3),
            "duckdb_copy_rows_per_s": round(rows / baseline),
            "duckdb_copy_bytes": out.stat().st_size,
            "ratio": round(seconds / baseline, 2),
        }
    return results


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['rows']:,} rows, chunks of {result['chunk_rows']:,}",
        "| format | exporter rows/s | DuckDB COPY rows/s | ratio | peak (Python, MiB) "
        "| bytes (ours / DuckDB) |",
        "|---|---|---|---|---|---|",
    ]
    for fmt in FORMATS:
        r = result[fmt.value]
        lines.append(
            f"| {fmt.value} | {r['exporter_rows_per_s']:,} | {r['duckdb_copy_rows_per_s']:,} | "
            f"{r['ratio']} | {r['exporter_peak_python_mib']} | "
            f"{r['exporter_bytes']:,} / {r['duckdb_copy_bytes']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-export-") as work:
        result = run(args, Path(work))
    print(json.dumps(result, indent=2))
    if not args.json_only:
        print()
        print(table(result))


if __name__ == "__main__":
    main()
