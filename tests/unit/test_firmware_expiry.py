"""The expiry of an unconfirmed presigned upload (docs/firmware.md 12.1): the `Firmware` rule
(expired only while pending and past its URL's expiry plus the grace; once only; never after a
confirmation), a confirmation too late (`UploadExpired`), the service's command on the popo
store (idempotent; a confirmation committed meanwhile wins), and the timer the schedule writer
sets for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from event_store.envelope import EventEnvelope, EventMetadata
from ota.schedule import Timer
from ota.schedule_events import HANDLED_TOPICS, timers_of
from tests.ota_clock import T0, Clock
from tests.unit.envelopes import recorded
from write_side.application import FleetApplication, Saved
from write_side.deployment_errors import InvalidTransition, UploadExpired
from write_side.firmware import FIRMWARE_UPLOAD_REQUESTED, UPLOAD_GRACE, Firmware
from write_side.firmware_commands import (
    ConfirmFirmwareUpload,
    ExpireFirmwareUpload,
    RequestFirmwareUpload,
)
from write_side.firmware_service import UPLOAD_EXPIRY, FirmwareService
from write_side.firmware_states import FirmwareStatus

SHA = "ab" * 32
ADMIN = EventMetadata(tenant_id="acme", actor="user:alice")
SWEEPER = EventMetadata(tenant_id="acme", actor="system:upload-expiry")
EXPIRES = T0 + UPLOAD_EXPIRY
DEADLINE = EXPIRES + UPLOAD_GRACE


def pending(expires_at: Any = EXPIRES) -> Firmware:
    firmware = Firmware.request_upload(
        tenant_id="acme",
        version="1.4.0",
        device_types=["pump"],
        hardware_revisions=None,
        filename="pump.bin",
        size_bytes=1024,
        sha256=SHA,
        signature=None,
        key_id=None,
        release_notes=None,
        expires_at=expires_at,
    )
    firmware.collect_events()
    return firmware


def test_a_pending_upload_past_its_deadline_is_rejected_as_expired() -> None:
    firmware = pending()
    assert firmware.upload_deadline() == DEADLINE
    assert firmware.expire(DEADLINE) is True
    (event,) = firmware.collect_events()
    assert type(event).__name__ == "UploadRejected"
    assert (firmware.status, firmware.rejection_reason) == (FirmwareStatus.REJECTED, "expired")


def test_an_upload_is_not_expired_before_its_deadline_nor_an_embedded_one() -> None:
    firmware = pending()
    with pytest.raises(InvalidTransition, match="open until"):
        firmware.expire(DEADLINE - timedelta(seconds=1))  # within the grace after the URL
    embedded = pending(expires_at=None)
    with pytest.raises(InvalidTransition):
        embedded.expire(DEADLINE + timedelta(days=30))
    assert firmware.collect_events() == embedded.collect_events() == []
    assert firmware.status is embedded.status is FirmwareStatus.PENDING_UPLOAD


def test_expiring_twice_records_once() -> None:
    firmware = pending()
    firmware.expire(DEADLINE)
    firmware.collect_events()
    assert firmware.expire(DEADLINE + timedelta(hours=1)) is False
    assert firmware.collect_events() == []


@pytest.mark.parametrize("reason", ["size_mismatch", "published"])
def test_a_confirmed_upload_is_never_expired(reason: str) -> None:
    firmware = pending()
    if reason == "published":
        firmware.publish(1024, SHA, T0)
    else:
        firmware.reject("size_mismatch")
    firmware.collect_events()
    with pytest.raises(InvalidTransition, match="not pending"):
        firmware.expire(DEADLINE + timedelta(hours=1))
    assert firmware.collect_events() == []


def test_a_confirmation_after_the_deadline_or_the_expiry_is_upload_expired() -> None:
    firmware = pending()
    firmware.require_confirmable(DEADLINE - timedelta(seconds=1))  # a PUT made in the grace
    with pytest.raises(UploadExpired) as late:
        firmware.require_confirmable(DEADLINE)  # not expired yet: the sweeper is behind
    assert late.value.code == "UPLOAD_EXPIRED"
    firmware.expire(DEADLINE)
    with pytest.raises(UploadExpired):
        firmware.require_confirmable(DEADLINE - timedelta(hours=1))
    published = pending()
    published.publish(1024, SHA, T0)
    with pytest.raises(InvalidTransition):
        published.require_confirmable(T0)


# The service, on the popo store ---------------------------------------------------------------


class Racing(FleetApplication):
    """Runs `before_commit` once, just before the next commit (a confirmation meanwhile)."""

    before_commit: Any = None

    def commit(self, aggregate: Any, meta: EventMetadata, *also: Any) -> Saved[Any]:
        hook, self.before_commit = self.before_commit, None
        if hook is not None:
            hook()
        return super().commit(aggregate, meta, *also)


@pytest.fixture
def app() -> Iterator[Racing]:
    application = Racing(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def request(service: FirmwareService) -> Firmware:
    command = RequestFirmwareUpload(
        version="1.4.0", device_types=["pump"], filename="p.bin", size_bytes=1024, sha256=SHA
    )
    return service.request_upload(command, ADMIN).aggregate


def confirm(service: FirmwareService, firmware: Firmware) -> Saved[Firmware]:
    command = ConfirmFirmwareUpload(firmware_id=firmware.id, size_bytes=1024, sha256=SHA)
    return service.confirm_upload(command, ADMIN)


def test_the_service_expires_once_and_refuses_a_late_confirmation(app: Racing) -> None:
    clock = Clock()
    service = FirmwareService(app, clock=clock)
    firmware = request(service)
    expire = ExpireFirmwareUpload(firmware_id=firmware.id)
    clock.now = DEADLINE - timedelta(seconds=1)
    with pytest.raises(InvalidTransition):
        service.expire_upload(expire, SWEEPER)
    clock.now = DEADLINE
    saved = service.expire_upload(expire, SWEEPER)
    assert (saved.aggregate.status, saved.aggregate.version) == (FirmwareStatus.REJECTED, 2)
    again = service.expire_upload(expire, SWEEPER)
    assert (again.position, again.aggregate.version) == (0, 2)  # nothing recorded
    with pytest.raises(UploadExpired):
        confirm(service, firmware)
    assert service.load("acme", firmware.id).version == 2


def test_a_confirmation_committed_while_expiring_wins(app: Racing) -> None:
    clock = Clock()
    in_time = FirmwareService(app, clock=clock)  # the requests' clock
    sweeper = FirmwareService(app, clock=Clock(DEADLINE))
    firmware = request(in_time)
    clock.now = EXPIRES  # the confirmation, in the grace
    app.before_commit = lambda: confirm(in_time, firmware)
    with pytest.raises(InvalidTransition, match="not pending"):  # re-decided after the race
        sweeper.expire_upload(ExpireFirmwareUpload(firmware_id=firmware.id), SWEEPER)
    assert sweeper.load("acme", firmware.id).status is FirmwareStatus.AVAILABLE


def test_a_requested_upload_sets_a_timer_at_its_deadline() -> None:
    assert FIRMWARE_UPLOAD_REQUESTED.topic in HANDLED_TOPICS
    firmware_id = pending().id

    def requested(expires_at: str | None) -> EventEnvelope:
        payload = {"expires_at": expires_at}
        kind = FIRMWARE_UPLOAD_REQUESTED.type
        return recorded(
            kind, payload, stream_id=firmware_id, version=1, at=T0, actor="a", position=1
        )

    assert timers_of(requested(EXPIRES.isoformat())) == [
        Timer(DEADLINE, "acme", firmware_id, 1, "upload_expiry")
    ]
    assert timers_of(requested(None)) == []  # an embedded upload: published at once
