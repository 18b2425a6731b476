"""The job document of docs/firmware.md 12.5 (`ota/job_document.py`): its wire shape, the
presigned URL it carries, which notices are still to be told, the polling answer and its
entity tag, and the release a revert installs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from ota.job_document import JobDocument, JobDocuments, notice_is_current
from ota.local_blobs import LocalBlobStore
from ota.schedule import JobNotice
from tests.unit.deployment_fixtures import OLD, ORCHESTRATOR, TARGET, World
from write_side.commands import RegisterDevice
from write_side.deployment_commands import ReportUpdate
from write_side.deployment_service import QueueExecution
from write_side.device_service import DeviceService
from write_side.firmware import FirmwareVersion
from write_side.firmware_objects import object_key

DEVICE = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def world() -> Iterator[World]:
    built = World.build()
    yield built
    built.app.close()


@pytest.fixture
def blobs(tmp_path: Path, world: World) -> LocalBlobStore:
    return LocalBlobStore(tmp_path, url_secret=b"k" * 32, clock=lambda: world.clock().timestamp())


@pytest.fixture
def documents(world: World, blobs: LocalBlobStore) -> JobDocuments:
    return JobDocuments(world.service, blobs, url_lifetime_s=600)


def notice(execution: uuid.UUID, attempt: int = 1, operation: str = "install") -> JobNotice:
    return JobNotice("acme", DEVICE, execution, attempt, operation, "mqtt")  # type: ignore[arg-type]


def report(world: World, execution: uuid.UUID, seq: int, status: str, **more: object) -> None:
    body = {"device_id": DEVICE, "execution_id": execution, "seq": seq, "status": status}
    command = ReportUpdate.model_validate(body | {"at": world.clock.tick()} | more)
    world.service.report_update(command, ORCHESTRATOR)


def test_the_document_has_the_wire_fields_and_a_working_url(
    world: World, documents: JobDocuments, blobs: LocalBlobStore
) -> None:
    deployment = world.running()
    execution = world.notified(deployment, DEVICE)
    document = documents.render_notice(notice(execution))
    assert document is not None
    assert set(document) == {
        "executionId", "deploymentId", "attempt", "operation", "lastSeq", "firmware"
    }  # fmt: skip
    assert (document["executionId"], document["attempt"]) == (str(execution), 1)
    assert (document["operation"], document["lastSeq"]) == ("install", 0)
    firmware = document["firmware"]
    assert isinstance(firmware, dict)
    release = world.releases.get("acme", uuid.UUID(firmware["firmwareId"]))
    assert release is not None
    assert firmware["version"] == TARGET
    assert (firmware["sha256"], firmware["sizeBytes"]) == (release.sha256, release.size_bytes)
    assert set(firmware) >= {"signature", "keyId", "urlExpiresAt"}
    url = urlsplit(firmware["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    key = object_key("acme", release.sha256)
    assert url.path.endswith(key.removeprefix("firmware/"))
    blobs.verify_presigned_get(key, int(query["expires"]), query["signature"])  # no raise
    expected = (world.clock() + timedelta(seconds=600)).replace(microsecond=0)
    assert JobDocument.model_validate(document).firmware.url_expires_at == expected


def test_a_document_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        JobDocument.model_validate({"executionId": str(DEVICE), "extra": 1})


def test_a_notice_is_rendered_only_while_it_is_current(
    world: World, documents: JobDocuments
) -> None:
    deployment = world.running()
    execution = world.notified(deployment, DEVICE)
    assert documents.render_notice(notice(execution, attempt=2)) is None  # not that attempt
    assert documents.render_notice(notice(execution, operation="cancel")) is None  # not canceled
    assert documents.render_notice(notice(uuid.uuid4())) is None  # no such execution
    other_device = JobNotice("acme", uuid.uuid4(), execution, 1, "install", "mqtt")
    assert documents.render_notice(other_device) is None
    report(world, execution, 1, "succeeded", version=TARGET)
    assert documents.render_notice(notice(execution)) is None  # ended


def test_a_cancel_notice_is_rendered_once_canceled(world: World, documents: JobDocuments) -> None:
    deployment = world.running()
    execution = world.notified(deployment, DEVICE)
    world.service.cancel_execution(execution, "operator", ORCHESTRATOR)
    loaded = world.service.get_execution("acme", execution)
    assert notice_is_current(notice(execution, operation="cancel"), loaded)
    document = documents.render_notice(notice(execution, operation="cancel"))
    assert document is not None
    assert document["operation"] == "cancel"
    assert documents.render_notice(notice(execution)) is None


def test_the_next_job_is_the_active_execution_with_its_etag(
    world: World, documents: JobDocuments
) -> None:
    assert documents.next_for_device("acme", DEVICE) is None
    deployment = world.running()
    execution = world.queued(deployment, DEVICE)
    assert documents.next_for_device("acme", DEVICE) is None  # queued: nothing to do yet
    world.service.notify(execution, "http", ORCHESTRATOR)
    first = documents.next_for_device("acme", DEVICE)
    assert first is not None
    assert first.etag == f'"{execution}:1:2"'  # Queued, Notified
    assert documents.next_for_device("other", DEVICE) is None  # another tenant sees nothing
    report(world, execution, 3, "downloading", percent=10)
    second = documents.next_for_device("acme", DEVICE)
    assert second is not None
    assert (second.etag, second.document.last_seq) == (f'"{execution}:1:3"', 3)
    report(world, execution, 4, "succeeded", version=TARGET)
    assert documents.next_for_device("acme", DEVICE) is None


def test_a_revert_installs_the_release_of_the_version_it_came_from(
    world: World, documents: JobDocuments
) -> None:
    device = DeviceService(world.app).register(
        RegisterDevice(name="p1", device_type="pump"), ORCHESTRATOR
    )
    device_id = device.aggregate.id
    old = world.releases.add()
    stored = world.releases.items[("acme", old)]
    world.releases.items[("acme", old)] = type(stored)(**{**stored.__dict__, "version": OLD})
    world.app.commit(FirmwareVersion.claim("acme", "pump", OLD, old), ORCHESTRATOR)
    deployment = world.running()
    spec = QueueExecution(deployment.id, device_id, 0, TARGET, purpose="revert", target_version=OLD)
    execution = world.service.queue(spec, ORCHESTRATOR).aggregate.id
    world.service.notify(execution, "mqtt", ORCHESTRATOR)
    job = documents.next_for_device("acme", device_id)
    assert job is not None
    assert job.document.operation == "revert"
    assert (job.document.firmware.firmware_id, job.document.firmware.version) == (old, OLD)
