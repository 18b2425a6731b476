"""Shared set-up of the device-side OTA tests (docs/firmware.md 12.5): the whole system built
on a store (`store_settings`), a device with its credential, an image in the blob store, a
release published with `FirmwareService`, a running deployment and its execution queued and
notified through the deployment service's orchestrator commands (the orchestrator itself is
another module's)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_service import QueueExecution
from write_side.firmware_commands import PublishFirmware

ADMIN = EventMetadata("acme", "user:ada")
ORCHESTRATOR = EventMetadata("acme", "system:ota")
TARGET, OLD = "2.0.0", "1.0.0"
IMAGE_BYTES = 300_000


@pytest.fixture
def system(store_settings: Settings, tmp_path: Path) -> Iterator[System]:
    settings = store_settings.model_copy(update={"blob_dir": tmp_path / "blobs"})
    built = build_system(settings)  # not started: the device routes need no worker
    yield built
    built.close()


def device(
    system: System, meta: EventMetadata = ADMIN, kind: str = "pump", **metadata: str
) -> tuple[UUID, str]:
    command = RegisterDevice(name="p", device_type=kind, metadata=metadata)
    saved = system.device_service.register(command, meta)
    issued = system.device_service.issue_credential(
        IssueDeviceCredential(device_id=saved.aggregate.id), meta
    )
    return saved.aggregate.id, issued.token


def release(
    system: System,
    data: bytes,
    meta: EventMetadata = ADMIN,
    version: str = TARGET,
    revisions: list[str] | None = None,
) -> UUID:
    assert system.blobs is not None
    with system.blobs.open_writer(meta.tenant_id) as writer:
        writer.write(data)
        blob = writer.commit()
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    command = PublishFirmware(
        version=version,
        device_types=["pump"],
        hardware_revisions=revisions,
        filename="pump.bin",
        size_bytes=len(data),
        sha256=blob.sha256,
    )
    return system.firmware_service.publish(command, meta).aggregate.id


@dataclass(frozen=True)
class Job:
    device_id: UUID
    token: str
    firmware_id: UUID
    execution_id: UUID
    image: bytes


def job(system: System, channel: str = "http") -> Job:
    """A device with a NOTIFIED execution of a release of `IMAGE_BYTES` random bytes."""
    device_id, token = device(system)
    image = os.urandom(IMAGE_BYTES)
    firmware_id = release(system, image)
    service = system.deployment_service
    body = {
        "name": "pumps",
        "firmwareId": str(firmware_id),
        "target": {"deviceIds": [str(device_id)]},
    }
    deployment = service.create(parse_create_deployment(body), ADMIN).aggregate
    now = datetime.now(UTC)
    deployment.start(now, 1)
    deployment.start_wave(0, 1, now)
    system.app.commit(deployment, ORCHESTRATOR)
    spec = QueueExecution(deployment.id, device_id, 0, OLD)
    execution_id = service.queue(spec, ORCHESTRATOR).aggregate.id
    service.notify(execution_id, channel, ORCHESTRATOR)  # type: ignore[arg-type]
    return Job(device_id, token, firmware_id, execution_id, image)


def update(seq: int, status: str, **more: object) -> dict[str, object]:
    return {"seq": seq, "status": status, "at": datetime.now(UTC).isoformat()} | more


def stored(system: System) -> int:
    """How many events the store holds (an error must not change it)."""
    return system.app.recorder.max_notification_id() or 0
