"""A firmware version is unique per (tenant, device type) on each store (SQLite, DynamoDB Local):
a release and its `FirmwareVersion` markers are saved in one `insert_events`
(`FleetApplication.commit(firmware, meta, *markers)`), so of two concurrent publications of one
version for one type exactly one wins, the other is FIRMWARE_VERSION_TAKEN, and nothing of the
loser is stored (not even its marker for a type the winner does not have).

The race is forced: both publishers pass the service's look-up (no marker yet) before either
commits, so the store's refusal, not the look-up, decides. Publishers run in one application
(one process: on DynamoDB, its group commit) and in two (two processes sharing the store).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import application_env
from fleetwatch.settings import Settings
from write_side.application import FleetApplication, Saved
from write_side.deployment_errors import FirmwareVersionTaken
from write_side.errors import ConcurrencyConflict
from write_side.firmware import Firmware, FirmwareVersion, firmware_version_id
from write_side.firmware_commands import (
    PublishFirmware,
    RejectFirmwareUpload,
    RequestFirmwareUpload,
)
from write_side.firmware_service import FirmwareService

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = EventMetadata(tenant_id="acme", actor="user:alice")
TYPES = (["pump", "valve"], ["pump", "fan"])  # both claim pump; each has a type of its own


class RacingApplication(FleetApplication):
    """Holds every multi-aggregate commit at a barrier until all publishers reach it, so
    both have looked for the markers (and found none) before either writes."""

    barrier: threading.Barrier | None = None

    def commit(self, aggregate: Any, meta: EventMetadata, *also: Aggregate) -> Saved[Any]:
        if also and self.barrier is not None:
            self.barrier.wait(timeout=30)
        return super().commit(aggregate, meta, *also)


@pytest.fixture(params=["one_application", "two_applications"])
def apps(
    request: pytest.FixtureRequest, store_settings: Settings
) -> Iterator[tuple[RacingApplication, RacingApplication]]:
    first = RacingApplication(env=application_env(store_settings))
    second = first if request.param == "one_application" else None
    if second is None:
        second = RacingApplication(env=application_env(store_settings))
    yield first, second
    first.close()
    if second is not first:
        second.close()


def _publish(service: FirmwareService, version: str, types: list[str]) -> Any:
    command = PublishFirmware(
        version=version, device_types=types, filename="f.bin", size_bytes=10, sha256="ab" * 32
    )
    try:
        return service.publish(command, ADMIN)
    except FirmwareVersionTaken as e:
        return e


def _stored(app: FleetApplication) -> int:
    return len(app.recorder.select_notifications(start=1, limit=1000))


def test_two_concurrent_publications_of_a_version_one_wins(
    apps: tuple[RacingApplication, RacingApplication],
) -> None:
    barrier = threading.Barrier(2)
    for app in apps:
        app.barrier = barrier
    services = [FirmwareService(app, clock=lambda: T0) for app in apps]
    reader = apps[0]
    for round_number, version in enumerate(("1.4.0", "1.5.0-rc.1", "2.0.0")):
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(_publish, services, [version] * 2, TYPES))
        won = [o for o in outcomes if isinstance(o, Saved)]
        lost = [o for o in outcomes if isinstance(o, FirmwareVersionTaken)]
        assert (len(won), len(lost)) == (1, 1), outcomes
        taken = lost[0]
        assert (taken.code, taken.device_type, taken.version) == (
            "FIRMWARE_VERSION_TAKEN",
            "pump",
            version,
        )
        # The store refused the loser's commit (its look-up had found nothing).
        assert isinstance(taken.__context__, ConcurrencyConflict)

        winner = won[0].aggregate
        loser_types = TYPES[1] if winner.device_types == TYPES[0] else TYPES[0]
        own_type = loser_types[1]  # the loser's type that the winner does not have
        assert reader.find(FirmwareVersion, "acme", _marker(own_type, version)) is None
        pump = reader.load(FirmwareVersion, "acme", _marker("pump", version))
        assert pump.firmware_id == winner.id
        loaded = reader.load(Firmware, "acme", winner.id)
        assert loaded.device_types == winner.device_types
        # Per round: the winner's UploadRequested, Published and two markers, nothing else.
        assert _stored(reader) == 4 * (round_number + 1)


def _marker(device_type: str, version: str) -> Any:
    return firmware_version_id("acme", device_type, version)


def test_a_published_version_is_refused_later_and_a_rejected_upload_claims_none(
    app: FleetApplication,
) -> None:
    service = FirmwareService(app, clock=lambda: T0)
    assert isinstance(_publish(service, "1.4.0", ["pump"]), Saved)
    refused = _publish(service, "1.4.0+again", ["valve", "pump"])
    assert isinstance(refused, FirmwareVersionTaken)
    assert _stored(app) == 3
    assert app.find(FirmwareVersion, "acme", _marker("valve", "1.4.0")) is None
    assert isinstance(_publish(service, "1.4.0", ["valve"]), Saved)
    other = FirmwareService(app, clock=lambda: T0)
    globex = EventMetadata(tenant_id="globex", actor="user:gus")
    command = PublishFirmware(
        version="1.4.0", device_types=["pump"], filename="f", size_bytes=1, sha256="cd" * 32
    )
    assert other.publish(command, globex).aggregate.tenant_id == "globex"

    pending = service.request_upload(RequestFirmwareUpload(**_fields("3.0.0")), ADMIN)
    service.reject_upload(
        RejectFirmwareUpload(firmware_id=pending.aggregate.id, reason="expired"), ADMIN
    )
    assert app.find(FirmwareVersion, "acme", _marker("pump", "3.0.0")) is None
    assert isinstance(_publish(service, "3.0.0", ["pump"]), Saved)


def _fields(version: str) -> dict[str, Any]:
    return {
        "version": version,
        "device_types": ["pump"],
        "filename": "f.bin",
        "size_bytes": 10,
        "sha256": "ab" * 32,
    }
