"""Exports end to end below the API (docs/analytics.md 20.5), on SQLite and DynamoDB Local,
into the local blob store and S3 (moto): a few thousand telemetry rows from the Parquet files
as CSV and as Parquet, read back with DuckDB (counts and values), another tenant's rows never
in them; events of one tenant from the feed; and the memory of a larger export bounded by its
chunk, not by its rows."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import duckdb
import pytest

from event_store.envelope import EventMetadata
from event_store.log import EventLog
from ota.local_blobs import LocalBlobStore
from ota.port import CHUNK_SIZE, BlobStore
from ota.s3 import S3BlobStore, s3_client
from projections.export_sources import ExportSources
from projections.exports import ExportBudgets, Exporter
from read_side.analytics import ParquetFiles
from read_side.analytics.files import TelemetryRows
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.device_service import DeviceService
from write_side.export_service import ExportService, RequestExport
from write_side.exports import (
    EXPORT_PROGRESSED,
    ExportFormat,
    ExportKind,
    ExportStatus,
)

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # readings run over midnight: two day partitions
ACME = EventMetadata("acme", "user:alice")
DEVICES = [uuid.UUID(int=i + 1) for i in range(3)]


def readings(files: ParquetFiles, tenant: str, devices: Sequence[UUID], n: int) -> float:
    """`n` readings per device, one a minute, in the tenant's files; their sum of values."""
    rows = TelemetryRows()
    for d, device in enumerate(devices):
        for i in range(n):
            rows.tenant_id.append(tenant)
            rows.device_id.append(str(device))
            rows.device_type.append("boiler")
            rows.metric.append("temp")
            rows.ts_ms.append(int((T0 + timedelta(minutes=i)).timestamp() * 1000))
            rows.value.append(d * 1000 + i / 4)
            rows.message_id.append(f"m{d}-{i}")
            rows.received_ms.append(int(T0.timestamp() * 1000))
            rows.position.append(1)
            rows.late.append(False)
    files.write(rows, 1 if tenant == "acme" else 2, 1 if tenant == "acme" else 2)
    return sum(rows.value)


def owned(tenant: str, ids: Sequence[UUID]) -> set[UUID]:
    return set(ids) & set(DEVICES) if tenant == "acme" else set()


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs", url_secret=b"test-secret")
    store = S3BlobStore(
        s3_client("us-east-1", request.getfixturevalue("moto_url")), f"ex-{uuid.uuid4().hex[:12]}"
    )
    store.create_bucket()
    return store


@pytest.fixture
def files(tmp_path: Path) -> ParquetFiles:
    return ParquetFiles(tmp_path / "analytics")


def exporter(
    app: FleetApplication, files: ParquetFiles, blobs: BlobStore, **budgets: int
) -> tuple[ExportService, Exporter]:
    service = ExportService(app, owned)
    sources = ExportSources(files, EventLog(app.recorder, app.envelope_mapper))
    return service, Exporter(service, sources, blobs, ExportBudgets(**budgets))


def read_back(blobs: BlobStore, key: str, path: Path, format: ExportFormat) -> list[tuple]:
    path.write_bytes(b"".join(blobs.read_range(key)))
    reader = "read_parquet" if format is ExportFormat.PARQUET else "read_csv"
    sql = (
        f"SELECT count(*), sum(value), min(ts), max(ts), count(DISTINCT device_id) FROM {reader}(?)"
    )
    return duckdb.execute(sql, [str(path)]).fetchall()


@pytest.mark.parametrize("format", [ExportFormat.CSV, ExportFormat.PARQUET])  # html: reports
def test_telemetry_exports_read_back_with_duckdb(
    app: FleetApplication,
    files: ParquetFiles,
    blobs: BlobStore,
    tmp_path: Path,
    format: ExportFormat,
) -> None:
    total = readings(files, "acme", DEVICES, 1200)  # 3,600 rows over two days
    readings(files, "other", [uuid.uuid4()], 500)  # never in acme's export
    service, run = exporter(app, files, blobs, chunk_rows=1000)
    command = RequestExport(ExportKind.TELEMETRY, format, T0, T0 + timedelta(days=1))
    export = service.request(command, ACME).aggregate
    seen: list[int] = []
    done = run.run("acme", export.id, lambda e: seen.append(e.rows))
    assert done.status is ExportStatus.COMPLETED
    assert done.rows == 3600
    if format is ExportFormat.PARQUET:  # DuckDB writes the file at once: one event, then done
        assert seen == [3600, 3600]
    else:
        assert seen == [1000, 2000, 3000, 3600, 3600]  # each chunk, then the completion
    assert done.object_key is not None
    [(count, value_sum, first, last, devices)] = read_back(
        blobs, done.object_key, tmp_path / f"out.{format}", format
    )
    assert (count, devices) == (3600, 3)
    assert value_sum == pytest.approx(total)
    assert first.replace(tzinfo=None) == T0.replace(tzinfo=None)
    assert last.replace(tzinfo=None) == (T0 + timedelta(minutes=1199)).replace(tzinfo=None)
    link = blobs.presign_get(done.object_key, 600)
    assert link.method == "GET"
    assert link.expires_at > datetime.now(UTC)

    one = service.request(
        RequestExport(ExportKind.TELEMETRY, format, T0, T0 + timedelta(hours=1), [DEVICES[1]]),
        ACME,
    ).aggregate
    assert run.run("acme", one.id).rows == 60


def test_events_of_the_tenant_only(
    app: FleetApplication, files: ParquetFiles, blobs: BlobStore, tmp_path: Path
) -> None:
    devices = DeviceService(app)
    start = datetime.now(UTC) - timedelta(seconds=1)
    for tenant, n in (("acme", 4), ("other", 3)):
        for i in range(n):
            command = RegisterDevice(name=f"d{i}", device_type="boiler")
            devices.register(command, EventMetadata(tenant, "user:x"))
    service, run = exporter(app, files, blobs, chunk_rows=3)
    command = RequestExport(ExportKind.EVENTS, ExportFormat.CSV, start, start + timedelta(hours=1))
    export = service.request(command, ACME).aggregate
    done = run.run("acme", export.id)
    assert done.rows == 5  # four registrations and the export's own request
    assert done.object_key is not None
    path = tmp_path / "events.csv"
    path.write_bytes(b"".join(blobs.read_range(done.object_key)))
    types = duckdb.execute("SELECT type FROM read_csv(?) ORDER BY position", [str(path)]).fetchall()
    assert [t for (t,) in types] == ["Device.Registered"] * 4 + ["Export.Requested"]


@pytest.mark.parametrize("format", [ExportFormat.CSV, ExportFormat.PARQUET])
def test_max_rows_fails_the_export_naming_the_budget(
    app: FleetApplication, files: ParquetFiles, tmp_path: Path, format: ExportFormat
) -> None:
    """In chunks (CSV) and with DuckDB writing the file (Parquet: it stops at max_rows + 1)."""
    readings(files, "acme", DEVICES, 100)
    blobs = LocalBlobStore(tmp_path / "blobs", url_secret=b"s")
    service, run = exporter(app, files, blobs, chunk_rows=50, max_rows=120)
    command = RequestExport(ExportKind.TELEMETRY, format, T0, T0 + timedelta(days=1))
    done = run.run("acme", service.request(command, ACME).aggregate.id)
    assert done.status is ExportStatus.FAILED
    assert done.reason is not None
    assert "max_rows" in done.reason
    assert not list((tmp_path / "blobs").rglob("firmware/*/*"))  # nothing kept


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[FleetApplication]:
    application = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def peak_of(
    app: FleetApplication, files: ParquetFiles, tmp_path: Path, chunk: int, fmt: ExportFormat
) -> tuple[int, int]:
    blobs = LocalBlobStore(tmp_path / f"blobs-{chunk}", url_secret=b"s")
    service, run = exporter(app, files, blobs, chunk_rows=chunk)
    command = RequestExport(ExportKind.TELEMETRY, fmt, T0, T0 + timedelta(days=3))
    export = service.request(command, ACME).aggregate
    tracemalloc.start()
    try:
        done = run.run("acme", export.id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    progressed = [
        n for n in app.recorder.select_notifications(start=1, limit=10_000)
        if n.topic == EXPORT_PROGRESSED.topic and n.originator_id == export.id
    ]  # fmt: skip
    assert done.rows == 3 * 4000
    return peak, len(progressed)


@pytest.mark.parametrize("format", [ExportFormat.CSV, ExportFormat.PARQUET])  # html: reports
def test_memory_is_bounded_by_the_chunk_not_the_export(
    sqlite_app: FleetApplication, files: ParquetFiles, tmp_path: Path, format: ExportFormat
) -> None:
    readings(files, "acme", DEVICES, 4000)  # 12,000 rows
    whole, one = peak_of(sqlite_app, files, tmp_path, 20_000, format)
    chunked, chunks = peak_of(sqlite_app, files, tmp_path, 1000, format)
    if format is ExportFormat.PARQUET:  # DuckDB writes the file itself: no row in Python
        assert (one, chunks) == (1, 1)
        # the peak is the buffer that streams the file into the blob, whatever the chunk (the
        # 12,000 rows as one chunk of Python tuples took over 10 MiB)
        assert max(whole, chunked) < 2 * CHUNK_SIZE, (whole, chunked)
        return
    assert (one, chunks) == (1, 12)  # a progress event per chunk: 12 chunks of 1,000 rows
    assert chunked * 3 < whole, (chunked, whole)
