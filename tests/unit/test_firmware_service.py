"""FirmwareService (write_side/firmware_service.py) over an in-memory FleetApplication: publish
with and without signatures, a version unique per (tenant, device type) and claimed only at
publication, the AWS path (request, confirm, reject), withdraw, signing keys, and the
`FirmwareReleases` port. Every refusal stores nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication
from write_side.deployment_errors import FirmwareVersionTaken, InvalidTransition
from write_side.deployment_ports import FirmwareRelease, FirmwareReleases
from write_side.errors import ConcurrencyConflict, InvalidInput, NotFound
from write_side.firmware import Firmware, FirmwareVersion, firmware_version_id
from write_side.firmware_commands import (
    ConfirmFirmwareUpload,
    PublishFirmware,
    RegisterSigningKey,
    RejectFirmwareUpload,
    RequestFirmwareUpload,
    RequireSignedFirmware,
    RevokeSigningKey,
    WithdrawFirmware,
)
from write_side.firmware_service import FirmwareService
from write_side.firmware_signing import signed_message
from write_side.firmware_states import FirmwareStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHA = "ab" * 32
ADMIN = EventMetadata(tenant_id="acme", actor="user:alice")
S = FirmwareStatus


@pytest.fixture
def app() -> Iterator[FleetApplication]:
    application = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


@pytest.fixture
def service(app: FleetApplication) -> FirmwareService:
    return FirmwareService(app, clock=lambda: T0)


def stored(app: FleetApplication) -> int:
    return len(app.recorder.select_notifications(start=1, limit=1000))


def fields(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "version": "1.4.0",
        "device_types": ["pump"],
        "filename": "pump.bin",
        "size_bytes": 1024,
        "sha256": SHA,
    }
    return values | changes


def signed(private: Ed25519PrivateKey, key_id: str, **changes: Any) -> dict[str, Any]:
    f = fields(**changes)
    message = signed_message(f["sha256"], f["size_bytes"], f["version"], f["device_types"])
    return f | {"signature": base64.b64encode(private.sign(message)).decode(), "key_id": key_id}


def register(service: FirmwareService, meta: EventMetadata = ADMIN) -> tuple[Any, str]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    command = RegisterSigningKey(public_key=base64.b64encode(raw).decode(), label="release")
    return private, service.register_key(command, meta).key_id


def test_publish_records_the_release_and_its_markers_in_one_commit(
    service: FirmwareService, app: FleetApplication
) -> None:
    saved = service.publish(PublishFirmware(**fields(device_types=["pump", "valve"])), ADMIN)
    firmware = saved.aggregate
    assert (firmware.status, firmware.version) == (S.AVAILABLE, 2)
    assert saved.position == stored(app) == 4  # requested, published, two markers
    for device_type in ("pump", "valve"):
        marker = app.load(
            FirmwareVersion, "acme", firmware_version_id("acme", device_type, "1.4.0")
        )
        assert marker.firmware_id == firmware.id
    releases: FirmwareReleases = service  # the port the deployment service reads
    assert releases.get("acme", firmware.id) == FirmwareRelease(
        id=firmware.id,
        tenant_id="acme",
        version="1.4.0",
        device_types=("pump", "valve"),
        hardware_revisions=None,
        status=S.AVAILABLE,
        sha256=SHA,
        size_bytes=1024,
        signature=None,
        key_id=None,
    )
    assert releases.get("other", firmware.id) is None
    assert releases.get("acme", uuid4()) is None


def test_a_version_is_unique_per_tenant_and_device_type(
    service: FirmwareService, app: FleetApplication
) -> None:
    service.publish(PublishFirmware(**fields(device_types=["pump"])), ADMIN)
    before = stored(app)
    for changes in ({"device_types": ["valve", "pump"]}, {"version": "1.4.0+rebuild"}):
        with pytest.raises(FirmwareVersionTaken) as caught:
            service.publish(PublishFirmware(**fields(**changes)), ADMIN)
        assert (caught.value.code, caught.value.device_type) == ("FIRMWARE_VERSION_TAKEN", "pump")
    assert stored(app) == before  # nothing of the refused releases, not even the valve marker
    service.publish(PublishFirmware(**fields(device_types=["valve"])), ADMIN)  # another type
    service.publish(PublishFirmware(**fields(version="1.4.1")), ADMIN)  # another version
    other = EventMetadata(tenant_id="globex", actor="user:gus")
    service.publish(PublishFirmware(**fields()), other)  # another tenant


def test_the_store_refuses_a_second_claim_when_the_check_did_not_see_the_first(
    app: FleetApplication,
) -> None:
    """The service's look-up is a courtesy; the markers' stream ids are the guard: two releases
    decided concurrently (both saw no marker) cannot both commit, and the loser leaves no trace."""
    FirmwareService(app, clock=lambda: T0).publish(PublishFirmware(**fields()), ADMIN)
    second = Firmware.request_upload(**_release_fields(["valve", "pump"]))
    second.publish(1024, SHA, T0)
    before = stored(app)
    markers = [FirmwareVersion.claim("acme", t, "1.4.0", second.id) for t in second.device_types]
    with pytest.raises(ConcurrencyConflict):
        app.commit(second, ADMIN, *markers)
    assert stored(app) == before
    assert app.find(Firmware, "acme", second.id) is None
    assert app.find(FirmwareVersion, "acme", markers[0].id) is None  # valve: not half-written


def _release_fields(device_types: list[str]) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "version": "1.4.0",
        "device_types": device_types,
        "hardware_revisions": None,
        "filename": "f.bin",
        "size_bytes": 1024,
        "sha256": SHA,
        "signature": None,
        "key_id": None,
        "release_notes": None,
        "expires_at": None,
    }


def test_signatures_are_checked_against_the_tenants_keys(
    service: FirmwareService, app: FleetApplication
) -> None:
    private, key_id = register(service)
    saved = service.publish(PublishFirmware(**signed(private, key_id)), ADMIN)
    assert (saved.aggregate.key_id, saved.aggregate.signature) == (
        key_id,
        signed(private, key_id)["signature"],
    )

    other_private, other_key = register(service, EventMetadata(tenant_id="globex", actor="u"))
    before = stored(app)
    refuse(service, signed(private, key_id, version="1.5.0") | {"version": "1.5.1"}, "signature")
    refuse(service, signed(other_private, other_key, version="1.5.0"), "keyId")  # not acme's
    refuse(service, signed(private, key_id, version="1.5.0") | {"key_id": None}, "keyId")
    refuse(service, fields(version="1.5.0", key_id=key_id), "signature")  # key id alone
    assert stored(app) == before
    service.revoke_key(RevokeSigningKey(key_id=key_id, reason="leaked"), ADMIN)
    service.publish(PublishFirmware(**fields(version="1.5.0")), ADMIN)  # unsigned: not required
    service.require_signed(RequireSignedFirmware(required=True), ADMIN)
    before = stored(app)
    refuse(service, signed(private, key_id, version="1.6.0"), "keyId")  # revoked
    refuse(service, fields(version="1.6.0"), "signature")  # unsigned where required
    assert stored(app) == before

    new_private, new_key = register(service)
    service.publish(PublishFirmware(**signed(new_private, new_key, version="1.6.0")), ADMIN)


def refuse(service: FirmwareService, command_fields: dict[str, Any], field: str) -> None:
    """Both ways in (embedded publish, AWS request) refuse the release, naming `field`."""
    with pytest.raises(InvalidInput) as caught:
        service.publish(PublishFirmware(**command_fields), ADMIN)
    assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        service.request_upload(RequestFirmwareUpload(**command_fields), ADMIN)
    assert caught.value.field == field


def test_signing_key_commands_record_only_changes(
    service: FirmwareService, app: FleetApplication
) -> None:
    assert service.signing_keys("acme") is None
    saved = service.require_signed(RequireSignedFirmware(required=False), ADMIN)
    assert (saved.position, stored(app)) == (0, 0)  # no stream opened for nothing
    private, key_id = register(service)
    assert stored(app) == 2  # Opened, KeyRegistered
    raw = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    again = service.register_key(RegisterSigningKey(public_key=raw.decode(), label="x"), ADMIN)
    assert (again.key_id, again.saved.position, stored(app)) == (key_id, 0, 2)
    with pytest.raises(NotFound):
        service.revoke_key(RevokeSigningKey(key_id="0" * 16), ADMIN)
    with pytest.raises(NotFound):
        service.revoke_key(
            RevokeSigningKey(key_id=key_id), EventMetadata(tenant_id="globex", actor="u")
        )
    with pytest.raises(InvalidInput) as caught:
        service.register_key(RegisterSigningKey(public_key="AAAA", label="x"), ADMIN)
    assert caught.value.field == "publicKey"
    keys = service.signing_keys("acme")
    assert keys is not None
    assert list(keys.keys) == [key_id]


def test_the_aws_path_claims_the_version_only_when_published(
    app: FleetApplication,
) -> None:
    service = FirmwareService(app, clock=lambda: T0, upload_expiry=timedelta(minutes=5))
    pending = service.request_upload(RequestFirmwareUpload(**fields()), ADMIN).aggregate
    assert (pending.status, pending.expires_at) == (S.PENDING_UPLOAD, T0 + timedelta(minutes=5))
    assert stored(app) == 1  # no marker yet
    rejected = service.reject_upload(
        RejectFirmwareUpload(firmware_id=pending.id, reason="expired"), ADMIN
    ).aggregate
    assert rejected.status is S.REJECTED
    # the rejected upload never held 1.4.0: a new one publishes it
    second = service.request_upload(RequestFirmwareUpload(**fields()), ADMIN).aggregate
    mismatch = service.request_upload(RequestFirmwareUpload(**fields()), ADMIN).aggregate
    confirmed = service.confirm_upload(
        ConfirmFirmwareUpload(firmware_id=second.id, size_bytes=1024, sha256=SHA.upper()), ADMIN
    )
    assert confirmed.aggregate.status is S.AVAILABLE
    with pytest.raises(InvalidTransition):  # confirmed twice
        service.confirm_upload(
            ConfirmFirmwareUpload(firmware_id=second.id, size_bytes=1024, sha256=SHA), ADMIN
        )
    wrong = service.confirm_upload(
        ConfirmFirmwareUpload(firmware_id=mismatch.id, size_bytes=1000, sha256=SHA), ADMIN
    )
    assert (wrong.aggregate.status, wrong.aggregate.rejection_reason) == (
        S.REJECTED,
        "size_mismatch",
    )
    third = service.request_upload(RequestFirmwareUpload(**fields()), ADMIN).aggregate
    with pytest.raises(FirmwareVersionTaken):  # a matching image, but 1.4.0 is published
        service.confirm_upload(
            ConfirmFirmwareUpload(firmware_id=third.id, size_bytes=1024, sha256=SHA), ADMIN
        )
    assert service.load("acme", third.id).status is S.PENDING_UPLOAD


def test_withdraw(service: FirmwareService) -> None:
    firmware = service.publish(PublishFirmware(**fields()), ADMIN).aggregate
    with pytest.raises(ConcurrencyConflict):
        service.withdraw(WithdrawFirmware(firmware_id=firmware.id, expected_version=1), ADMIN)
    with pytest.raises(NotFound):
        service.withdraw(
            WithdrawFirmware(firmware_id=firmware.id), EventMetadata(tenant_id="globex", actor="u")
        )
    saved = service.withdraw(
        WithdrawFirmware(firmware_id=firmware.id, expected_version=2, reason="bricks r1"), ADMIN
    )
    assert (saved.aggregate.status, saved.aggregate.withdrawn_by) == (S.WITHDRAWN, "user:alice")
    assert service.withdraw(WithdrawFirmware(firmware_id=firmware.id), ADMIN).position == 0
    release = service.get("acme", firmware.id)
    assert release is not None
    assert release.status is S.WITHDRAWN


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": "1.4"}, "version"),
        ({"device_types": []}, "device_types"),
        ({"device_types": ["bad type"]}, "device_types"),
        ({"size_bytes": 0}, "size_bytes"),
        ({"sha256": "xyz"}, "sha256"),
        ({"key_id": "KEY"}, "key_id"),
        ({"release_notes": "x" * 10_001}, "release_notes"),
        ({"hardware_revisions": [""]}, "hardware_revisions"),
    ],
)
def test_bad_commands_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PublishFirmware(**fields(**changes))
    assert caught.value.errors()[0]["loc"][0] == field


def test_commands_deduplicate_types() -> None:
    command = PublishFirmware(**fields(device_types=["pump", "valve", "pump"]))
    assert command.device_types == ["pump", "valve"]
