"""The expiry of unconfirmed uploads end to end below the API (docs/firmware.md 12.1), on each
event store (SQLite, DynamoDB Local) with each blob store (a local directory, S3 on the
session's moto server): the schedule writer turns each presigned request into an
`upload_expiry` timer; the timer loop, on a settable clock, fires nothing before the deadline
and then the sweeper, which expires the unconfirmed releases and deletes their blobs, keeps
the confirmed one and the bytes another live release owns, and deletes nothing twice."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from event_store.envelope import EventMetadata
from fleetwatch.consumers import build_ota_schedule
from fleetwatch.settings import Settings
from fleetwatch.system import build_system
from fleetwatch.system_ota import read_model_sharing
from fleetwatch.wiring import MODELS_BY_NAME, application_env, open_read_model
from ota.local_blobs import LocalBlobStore
from ota.port import BlobStore
from ota.s3 import S3BlobStore, s3_client
from ota.schedule import UPLOAD_EXPIRY as UPLOAD_TIMER
from ota.schedule import Timer
from ota.schedule_loops import TimerLoop
from ota.upload_expiry import UploadSweeper, fire_timers
from projections.runner import ProjectionWorker
from read_side.firmware import FirmwareReader, FirmwareStatus
from tests.ota_clock import T0, Clock
from write_side.application import FleetApplication
from write_side.deployment_errors import UploadExpired
from write_side.firmware import UPLOAD_GRACE, Firmware
from write_side.firmware_commands import ConfirmFirmwareUpload, RequestFirmwareUpload
from write_side.firmware_service import UPLOAD_EXPIRY, FirmwareService

ADMIN = EventMetadata(tenant_id="acme", actor="user:alice")
DEADLINE = T0 + UPLOAD_EXPIRY + UPLOAD_GRACE


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs", url_secret=b"test-secret")
    client = s3_client("us-east-1", request.getfixturevalue("moto_url"))
    store = S3BlobStore(client, f"fw-{uuid.uuid4().hex[:12]}")
    store.create_bucket()
    return store


@dataclass
class World:
    app: FleetApplication
    service: FirmwareService
    clock: Clock
    blobs: BlobStore
    firmware: FirmwareReader
    projection: ProjectionWorker

    def request(self, version: str, image: bytes, *, put: bool) -> Firmware:
        command = RequestFirmwareUpload(
            version=version,
            device_types=["pump"],
            filename="pump.bin",
            size_bytes=len(image),
            sha256=hashlib.sha256(image).hexdigest(),
        )
        firmware = self.service.request_upload(command, ADMIN).aggregate
        if put:  # what the client's presigned PUT leaves at the final key
            with self.blobs.open_writer("acme") as writer:
                writer.write(image)
                writer.commit()
        return firmware

    def confirm(self, firmware: Firmware) -> FirmwareStatus:
        command = ConfirmFirmwareUpload(
            firmware_id=firmware.id, size_bytes=firmware.size_bytes, sha256=firmware.sha256
        )
        return self.service.confirm_upload(command, ADMIN).aggregate.status

    def status(self, firmware: Firmware) -> tuple[FirmwareStatus, str | None]:
        self.projection.catch_up()
        row = self.firmware.get("acme", firmware.id)
        assert row is not None
        return row.status, row.rejection_reason

    def stored(self, firmware: Firmware) -> bool:
        return self.blobs.head(firmware.object_key) is not None


@pytest.fixture
def world(store_settings: Settings, blobs: BlobStore) -> Iterator[World]:
    app = FleetApplication(env=application_env(store_settings))
    clock = Clock()
    view, reader = open_read_model(app, store_settings, "firmware")
    projection = ProjectionWorker(
        MODELS_BY_NAME["firmware"].projection(view, reader),
        checkpoints=view,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
    )
    yield World(app, FirmwareService(app, clock=clock), clock, blobs, reader, projection)
    app.close()


def test_unconfirmed_uploads_expire_and_their_blobs_are_deleted(world: World) -> None:
    forgotten = world.request("1.0.0", b"never confirmed", put=True)
    never_put = world.request("1.1.0", b"never uploaded", put=False)
    confirmed = world.request("1.2.0", b"confirmed in time", put=True)
    same_bytes = world.request("1.3.0", b"confirmed in time", put=False)  # a retried request
    world.clock.now = T0 + UPLOAD_EXPIRY + timedelta(minutes=1)  # in the grace: still confirmable
    assert world.confirm(confirmed) is FirmwareStatus.AVAILABLE

    writer, schedule = build_ota_schedule(world.app)
    writer.catch_up()
    world.projection.catch_up()
    sweeper = UploadSweeper(
        world.service, world.blobs, read_model_sharing(world.firmware), schedule
    )
    loop = TimerLoop(schedule, fire_timers(sweeper.fire), clock=world.clock)
    world.clock.now = DEADLINE - timedelta(seconds=1)
    assert loop.drain() == 0
    assert world.stored(forgotten)
    assert world.status(forgotten) == (FirmwareStatus.PENDING_UPLOAD, None)

    leftover = None
    if isinstance(world.blobs, LocalBlobStore):  # a crashed streamed upload's, a day old
        leftover = world.blobs.open_writer("acme")
        leftover.write(b"half an image")
        os.utime(leftover.path, (0, 0))
    world.clock.now = DEADLINE
    assert loop.drain() == 4  # one timer per presigned request
    assert leftover is None or not leftover.path.exists()
    expired = (FirmwareStatus.REJECTED, "expired")
    assert world.status(forgotten) == world.status(never_put) == world.status(same_bytes) == expired
    assert world.status(confirmed) == (FirmwareStatus.AVAILABLE, None)
    assert not world.stored(forgotten)
    assert world.stored(confirmed)  # also `same_bytes`' key: the published release's image
    with pytest.raises(UploadExpired):
        world.confirm(forgotten)

    position = world.app.recorder.max_notification_id()
    assert sweeper.sweep("acme", forgotten.id) is True  # again: deleted (nothing there), ...
    assert world.app.recorder.max_notification_id() == position  # ... nothing recorded
    assert loop.drain() == 0  # every timer done


def test_the_systems_timer_loop_fires_upload_timers_into_the_sweeper(tmp_path: Path) -> None:
    """Wired by the composition root: a timer fired before the release's deadline (another
    process's clock ahead) is not lost, the sweeper schedules it again at the deadline."""
    settings = Settings(
        store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3", blob_dir=tmp_path / "blobs"
    )
    system = build_system(settings)
    try:
        assert system.ota_timers is not None
        assert system.ota_schedule is not None
        command = RequestFirmwareUpload(
            version="1.0.0", device_types=["pump"], filename="p.bin", size_bytes=1, sha256="ab" * 32
        )
        firmware = system.firmware_service.request_upload(command, ADMIN).aggregate
        deadline = firmware.upload_deadline()
        assert deadline is not None
        early = Timer(deadline - timedelta(minutes=10), "acme", firmware.id, 1, UPLOAD_TIMER)
        system.ota_timers.fire([early], early.due_at)
        assert system.ota_schedule.due(deadline, 10) == [
            Timer(deadline, "acme", firmware.id, 1, UPLOAD_TIMER)
        ]
    finally:
        system.close()


def test_what_a_crashed_writer_left_in_s3_is_swept(moto_url: str) -> None:
    """`S3BlobStore.sweep_incoming`, for a bucket without the lifecycle rule: an object a crash
    left between copy and delete, and an unfinished multipart upload. moto cannot backdate an
    object (kept at an age of an hour, swept at 0 s) and dates every multipart upload
    2010-11-10, so that one is always old."""
    store = S3BlobStore(s3_client("us-east-1", moto_url), f"fw-{uuid.uuid4().hex[:12]}")
    store.create_bucket()
    store.client.put_object(Bucket=store.bucket, Key=".incoming/left", Body=b"x")
    store.client.put_object(Bucket=store.bucket, Key="firmware/acme/" + "ab" * 32, Body=b"y")
    writer = store.open_writer("acme")
    writer.write(b"x" * (store.part_size + 1))  # a multipart upload under way

    def left() -> tuple[list[str], int]:
        listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        return sorted(o["Key"] for o in listed), len(uploads)

    assert store.sweep_incoming(older_than_s=3600) == 1  # the upload (moto's date)
    assert left() == ([".incoming/left", "firmware/acme/" + "ab" * 32], 0)
    assert store.sweep_incoming(older_than_s=0) == 1
    assert left() == (["firmware/acme/" + "ab" * 32], 0)  # a final key is never swept
