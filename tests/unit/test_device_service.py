"""The devices slice's handlers on an in-memory store, and the shared handler path every slice
takes (`FleetApplication.load`/`commit`, `check_version`, `retried`)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved, check_version, noun, retried
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.credentials import (
    HEARTBEAT_METADATA_KEY,
    IssueDeviceCredential,
    RevokeDeviceCredential,
)
from write_side.device_service import DeviceService
from write_side.devices import Device
from write_side.errors import AlreadyDecommissioned, ConcurrencyConflict, NotFound

ACME = EventMetadata("acme", "user:admin")


@pytest.fixture
def devices() -> Iterator[DeviceService]:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield DeviceService(app)
    app.close()


def register(devices: DeviceService, **metadata: str) -> Device:
    command = RegisterDevice(name="pump", device_type="pump", metadata=metadata)
    return devices.register(command, ACME).aggregate


def test_update_records_only_a_change_and_checks_the_expected_version(
    devices: DeviceService,
) -> None:
    device = register(devices)
    same = devices.update(UpdateDevice(device_id=device.id, name="pump"), ACME)
    assert (same.position, same.aggregate.version) == (0, 1)  # nothing recorded
    renamed = devices.update(UpdateDevice(device_id=device.id, name="p2", expected_version=1), ACME)
    assert (renamed.position > 0, renamed.aggregate.version) == (True, 2)
    with pytest.raises(ConcurrencyConflict) as conflict:
        devices.decommission(DecommissionDevice(device_id=device.id, expected_version=1), ACME)
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    devices.decommission(DecommissionDevice(device_id=device.id, expected_version=2), ACME)
    with pytest.raises(AlreadyDecommissioned):
        devices.update(UpdateDevice(device_id=device.id, name="p3"), ACME)


def test_another_tenants_device_is_not_found_but_ingestion_sees_it(
    devices: DeviceService,
) -> None:
    device = register(devices, **{HEARTBEAT_METADATA_KEY: "90"})
    globex = EventMetadata("globex", "user:x")
    with pytest.raises(NotFound, match=f"device {device.id} not found"):
        devices.update(UpdateDevice(device_id=device.id, name="mine"), globex)
    with pytest.raises(NotFound):
        devices.get("acme", uuid4())
    access = devices.access(device.id)
    assert access is not None
    assert (access.tenant_id, access.heartbeat_timeout_s) == ("acme", 90)
    assert devices.access(uuid4()) is None


def test_a_credential_is_issued_then_revoked_once(devices: DeviceService) -> None:
    device = register(devices)
    issued = devices.issue_credential(IssueDeviceCredential(device_id=device.id), ACME)
    assert issued.token.split(".")[2] == issued.saved.aggregate.credential_id
    revoke = RevokeDeviceCredential(device_id=device.id, reason="lost")
    assert devices.revoke_credential(revoke, ACME).position > 0
    assert devices.revoke_credential(revoke, ACME).position == 0  # none left to revoke


def test_a_lost_race_at_commit_is_a_conflict(devices: DeviceService) -> None:
    device = register(devices)
    mine, theirs = devices.get("acme", device.id), devices.get("acme", device.id)
    theirs.update(name="theirs")
    devices.app.commit(theirs, ACME)
    mine.update(name="mine")
    with pytest.raises(ConcurrencyConflict, match="changed concurrently"):
        devices.app.commit(mine, ACME)


def test_retried_reruns_a_lost_race_only_when_no_version_was_expected() -> None:
    attempts: list[int] = []

    def attempt() -> Saved[Device]:
        attempts.append(1)
        raise ConcurrencyConflict("lost a race")

    with pytest.raises(ConcurrencyConflict):
        retried(attempt, retry=True)
    assert len(attempts) == 3
    attempts.clear()
    with pytest.raises(ConcurrencyConflict):
        retried(attempt, retry=False)
    assert len(attempts) == 1


def test_a_stream_not_created_yet_is_at_version_zero() -> None:
    check_version(None, 0)
    check_version(None, None)
    with pytest.raises(ConcurrencyConflict) as conflict:
        check_version(None, 1)
    assert (conflict.value.expected, conflict.value.actual) == (1, 0)
    assert noun(Device) == "device"
