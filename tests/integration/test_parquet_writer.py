"""The Parquet writer on the embedded default (SQLite feed and checkpoint, local files, and
their S3 mirror on moto's server): the readings of the feed land in the Hive layout, DuckDB
reads back exactly them, and a crash between the files and the checkpoint leaves no duplicate
after the restart, however the restarted writer's flushes fall."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from eventsourcing.persistence import Tracking, TrackingRecorder

from event_store.envelope import EventMetadata
from fleetwatch.consumers import analytics_mirror
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env
from ota.s3 import s3_client
from projections.parquet import ParquetProjection, ParquetWorker
from read_side.analytics import ParquetFiles
from read_side.analytics.s3_mirror import S3Mirror
from tests.integration.test_telemetry_projection import record as record_messages
from write_side.application import FleetApplication
from write_side.telemetry import BatchEntry, Reading
from write_side.telemetry_log import Telemetry, telemetry_id

T0 = datetime(2026, 3, 1, 23, 50, tzinfo=UTC)  # readings run over midnight: two day partitions
LAYOUT = re.compile(r"^tenant_id=[^/]+/day=\d{4}-\d{2}-\d{2}/part-\d{12}-\d{12}_\d+\.parquet$")
Expected = set[tuple[str, str, str, datetime, float, str]]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FleetApplication]:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    application = FleetApplication(env=application_env(settings))
    yield application
    application.close()


class CrashBeforeCheckpoint:
    """A tracking recorder whose commit fails: the process dies after the files are in place."""

    def __init__(self, real: TrackingRecorder) -> None:
        self.real = real

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.real.max_tracking_id(application_name)

    def insert_tracking(self, tracking: Tracking) -> None:
        raise RuntimeError("killed between the files and the checkpoint")


def worker(
    app: FleetApplication, files: ParquetFiles, checkpoints: Any, every: int, batch: int = 7
) -> ParquetWorker:
    def types(tenant: str, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
        return dict.fromkeys(ids, "boiler")

    projection = ParquetProjection(files, checkpoints, types, flush_readings=every)
    return ParquetWorker(
        projection, checkpoints=checkpoints, recorder=app.recorder, mapper=app.envelope_mapper,
        upstream_name=app.name, max_batch=batch,
    )  # fmt: skip


def record(app: FleetApplication, tenant: str, device: uuid.UUID, start: int, n: int) -> Expected:
    """`n` messages (two metrics each, one a minute) in one event; what Parquet should hold."""
    stream = telemetry_id(tenant, device)
    telemetry = app.load_telemetry(stream) or Telemetry(tenant_id=tenant, device_id=device)
    expected: Expected = set()
    entries = []
    for i in range(start, start + n):
        at = T0 + timedelta(minutes=i)
        values = {"temp": 20.0 + i / 4, "hum": float(i % 7)}
        entries.append(BatchEntry(f"m{i}", at, tuple(Reading(m, v, at) for m, v in values.items())))
        expected |= {(tenant, str(device), m, at, v, f"m{i}") for m, v in values.items()}
    telemetry.record(entries, T0 + timedelta(hours=1), "http")
    app.save_telemetry([telemetry], EventMetadata(tenant, "system:ingestion"))
    return expected


def s3_mirror(moto_url: str) -> S3Mirror:
    client = s3_client("us-east-1", moto_url)
    bucket = f"analytics-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    return S3Mirror(client, bucket, "lake/telemetry")


def download(mirror: S3Mirror, into: Path) -> list[tuple[str, str, str, datetime, float, str]]:
    """The bucket's files, each under its key below `into`: what `stored` reads of them."""
    pages = mirror.client.get_paginator("list_objects_v2").paginate(
        Bucket=mirror.bucket, Prefix=f"{mirror.prefix}/"
    )
    keys = [str(item["Key"]) for page in pages for item in page.get("Contents", [])]
    assert keys
    for key in keys:
        relative = key.removeprefix(f"{mirror.prefix}/")
        assert LAYOUT.match(relative), key
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        mirror.client.download_file(mirror.bucket, key, str(target))
    return stored(into)


def stored(root: Path) -> list[tuple[str, str, str, datetime, float, str]]:
    rows = duckdb.sql(
        "SELECT tenant_id, device_id, metric, ts, value, message_id, device_type "
        "FROM read_parquet($glob, hive_partitioning = true)",
        params={"glob": str(root / "*" / "*" / "*.parquet")},
    ).fetchall()
    assert {row[6] for row in rows} == {"boiler"}
    return [(t, d, m, ts.replace(tzinfo=UTC), v, mid) for t, d, m, ts, v, mid, _ in rows]


@pytest.mark.parametrize("mirrored", [False, True], ids=["local", "local+s3"])
def test_readings_land_once_in_the_layout_even_after_a_crash_before_the_checkpoint(
    app: FleetApplication, tmp_path: Path, mirrored: bool, request: pytest.FixtureRequest
) -> None:
    """Local files; and mirrored to S3 (moto's server): the bucket holds the same files under
    the same keys, each reading once after the crash and the restart's sweep."""
    root = tmp_path / "analytics"
    mirror = s3_mirror(request.getfixturevalue("moto_url")) if mirrored else None
    files = ParquetFiles(root, mirror)

    def check(readings: Expected | None = None) -> list[tuple[str, str, str, datetime, float, str]]:
        """What the files hold (asserted equal to `readings` when given), the same in S3."""
        local = stored(root)
        if readings is not None:
            assert set(local) == readings
        if mirror is not None:
            copy = tmp_path / f"s3-copy-{uuid.uuid4().hex[:6]}"
            assert sorted(download(mirror, copy)) == sorted(local)
        return local

    devices = {tenant: [uuid.uuid4(), uuid.uuid4()] for tenant in ("acme", "umbrella/eu")}
    expected: Expected = set()
    for round_ in range(4):
        for tenant, ids in devices.items():
            for device in ids:
                expected |= record(app, tenant, device, round_ * 5, 5)
    checkpoints = app.factory.tracking_recorder()

    first = worker(app, files, checkpoints, every=30)
    first.catch_up()
    written = check(expected)
    assert len(written) == len(expected) == 160
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    assert names
    assert all(LAYOUT.match(name) for name in names), names
    assert {n.split("/")[0] for n in names} == {"tenant_id=acme", "tenant_id=umbrella%2Feu"}
    assert {n.split("/")[1] for n in names} == {"day=2026-03-01", "day=2026-03-02"}
    committed = first.checkpoint()

    # More readings; the writer places their files, then dies before its checkpoint.
    for tenant, ids in devices.items():
        for device in ids:
            expected |= record(app, tenant, device, 20, 6)
    # One event per batch: it flushes the first event alone (12 readings).
    crashed = worker(app, files, CrashBeforeCheckpoint(checkpoints), every=10, batch=1)
    with pytest.raises(RuntimeError, match="killed"):
        crashed.catch_up()
    assert checkpoints.max_tracking_id(crashed.tracking_name) == committed
    assert len(check()) > len(written)  # the crashed flush's files are there (and in S3)

    # Restarted with flushes that fall elsewhere: every reading exactly once.
    restarted = worker(app, files, checkpoints, every=1000)
    restarted.catch_up()
    again = check(expected)
    assert len(again) == len(expected) == 208
    assert restarted.checkpoint() == app.recorder.max_notification_id()


def test_the_writer_is_mirrored_when_a_bucket_is_set(moto_url: str, tmp_path: Path) -> None:
    """The composition root's mirror: none by default; with `analytics_bucket`, an S3 client
    on `blob_endpoint_url` that uploads under `analytics_prefix`."""
    assert analytics_mirror(Settings(sqlite_path=tmp_path / "a.sqlite3")) is None
    settings = Settings(
        sqlite_path=tmp_path / "b.sqlite3", analytics_bucket=f"lake-{uuid.uuid4().hex[:8]}",
        analytics_prefix="fleet/", blob_endpoint_url=moto_url,
    )  # fmt: skip
    mirror = analytics_mirror(settings)
    assert isinstance(mirror, S3Mirror)
    mirror.client.create_bucket(Bucket=settings.analytics_bucket)
    name = "part-000000000001-000000000002_0.parquet"
    placed = tmp_path / "root" / "tenant_id=acme" / "day=2026-03-01" / name
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"PAR1")
    key = f"fleet/tenant_id=acme/day=2026-03-01/{name}"
    assert mirror.put(tmp_path / "root", [placed]) == [key]
    assert mirror.sweep_after(1) == []  # its first position is covered by the checkpoint
    assert mirror.sweep_after(0) == [key]  # above the checkpoint: swept
    assert mirror.sweep_after(0) == []


@pytest.fixture
def store_app(store_settings: Settings) -> Iterator[FleetApplication]:
    """The application on either store (SQLite, DynamoDB Local): the writer's checkpoint too."""
    application = FleetApplication(env=application_env(store_settings))
    yield application
    application.close()


@pytest.mark.parametrize("mirrored", [False, True], ids=["local", "local+s3"])
def test_a_rebuild_writes_the_tree_again_from_the_feed(
    store_app: FleetApplication, tmp_path: Path, mirrored: bool, request: pytest.FixtureRequest
) -> None:
    """`fleetwatch projections rebuild parquet` (`System.rebuild`: reset, rewind, catch up) on
    a tree that went wrong below its checkpoint (a file lost, a stray copy of another): every
    reading once again, here and in the bucket, and the checkpoint (in the store's tracking
    table) forgotten, then at the head."""
    app = store_app
    root = tmp_path / "analytics"
    mirror = s3_mirror(request.getfixturevalue("moto_url")) if mirrored else None
    files = ParquetFiles(root, mirror)
    expected: Expected = set()
    for tenant in ("acme", "umbrella/eu"):
        for start in (0, 5, 10):
            expected |= record(app, tenant, uuid.uuid4(), start, 5)
    checkpoints = app.factory.tracking_recorder()
    writer = worker(app, files, checkpoints, every=20)
    writer.catch_up()
    assert set(stored(root)) == expected
    placed = sorted(root.rglob("*.parquet"))
    assert len(placed) > 2
    placed[0].unlink()  # lost
    stray = placed[1].with_name("part-000000000001-000000000001_7.parquet")
    stray.write_bytes(placed[1].read_bytes())  # a copy, below the checkpoint: never swept
    assert set(stored(root)) != expected or len(stored(root)) != len(expected)

    writer.projection.reset(writer.tracking_name)
    assert checkpoints.max_tracking_id(writer.tracking_name) is None
    assert not list(root.rglob("*.parquet"))
    writer.rewind()
    writer.catch_up()
    again = stored(root)
    assert sorted(again) == sorted(expected)  # each reading once
    assert writer.checkpoint() == app.recorder.max_notification_id()
    if mirror is not None:
        assert sorted(download(mirror, tmp_path / "s3-copy")) == sorted(expected)


@pytest.mark.parametrize(
    ("every", "batch"), [(100_000, 1000), (1, 1)], ids=["in-the-buffer", "in-committed-files"]
)
def test_a_late_repeat_is_written_once_and_a_late_new_message_is_kept(
    app: FleetApplication, tmp_path: Path, every: int, batch: int
) -> None:
    """A redelivery older than the stream's window comes marked late: the writer drops the
    entries that repeat a message it wrote (still buffered, or in a file already committed) and
    keeps a late message never seen, so a query over the files counts each reading once."""
    root = tmp_path / "analytics"
    device = uuid.uuid4()
    sent = [(f"m{i}", T0 + timedelta(seconds=i), {"temp": float(i)}) for i in range(LATE_COUNT)]
    for start in range(0, LATE_COUNT, 100):
        record_messages(app, device, sent[start : start + 100])
    record_messages(app, device, [sent[0], sent[5]])  # repeats only
    new = ("new", T0 + timedelta(seconds=7), {"temp": -1.0})
    record_messages(app, device, [sent[7], new])  # a repeat and a late new message
    checkpoints = app.factory.tracking_recorder()
    worker(app, ParquetFiles(root), checkpoints, every=every, batch=batch).catch_up()
    rows = duckdb.sql(
        "SELECT message_id, value, late FROM read_parquet($glob) ORDER BY position, message_id",
        params={"glob": str(root / "*" / "*" / "*.parquet")},
    ).fetchall()
    assert len(rows) == len({r[0] for r in rows}) == LATE_COUNT + 1
    assert [r for r in rows if r[2]] == [("new", -1.0, True)]


LATE_COUNT = 1100  # beyond the stream's window of 1,024 ids: m0, m5 and m7 come back late
