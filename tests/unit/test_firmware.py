"""The firmware aggregates (write_side/firmware.py, write_side/firmware_keys.py), no I/O: the
release lifecycle (a hypothesis state machine), the version markers' ids and the signing keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4, uuid5

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eventsourcing.domain import Aggregate
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ota.port import parse_object_key
from tests.hypothesis_profiles import examples
from write_side.deployment_errors import FirmwareUnavailable, InvalidTransition
from write_side.errors import InvalidInput, NotFound
from write_side.firmware import (
    REJECTION_REASONS,
    Firmware,
    FirmwareStatus,
    FirmwareVersion,
    claims,
    firmware_version_id,
)
from write_side.firmware_keys import SigningKeys, signing_keys_id
from write_side.firmware_objects import object_key as blob_key
from write_side.firmware_signing import key_id_of
from write_side.uuids import FLEETWATCH_NS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHA = "ab" * 32
S = FirmwareStatus


def release(**changes: object) -> Firmware:
    fields: dict[str, object] = {
        "tenant_id": "acme",
        "version": "1.4.0",
        "device_types": ["pump", "valve", "pump"],
        "hardware_revisions": ["r2"],
        "filename": "pump-1.4.0.bin",
        "size_bytes": 1024,
        "sha256": SHA,
        "signature": None,
        "key_id": None,
        "release_notes": "fixes",
        "expires_at": None,
    }
    fields.update(changes)
    return Firmware.request_upload(**fields)  # type: ignore[arg-type]


def replayed(aggregate: Aggregate) -> Aggregate:
    """The aggregate rebuilt from its events, as a load does."""
    copy: Aggregate | None = None
    for e in aggregate.collect_events():
        copy = e.mutate(copy)
    assert copy is not None
    return copy


def test_the_recorded_key_is_the_blob_stores_and_a_recorded_one_is_kept() -> None:
    """One `object_key`: a release records the key the blob stores use, the tenant
    percent-encoded (a tenant with `/` stays in its own prefix); an old event's recorded key
    (from before the encoding) is what its release still reads back."""
    firmware = release(tenant_id="acme/../globex")
    assert firmware.object_key == f"firmware/acme%2F%2E%2E%2Fglobex/{SHA}"
    assert firmware.object_key == blob_key("acme/../globex", SHA)
    assert parse_object_key(firmware.object_key) == ("acme/../globex", SHA)
    (requested,) = firmware.collect_events()
    old = type(requested)(**{**requested.__dict__, "object_key": f"firmware/acme/../globex/{SHA}"})
    kept = old.mutate(None)
    assert isinstance(kept, Firmware)
    assert kept.object_key == f"firmware/acme/../globex/{SHA}"


def test_a_release_is_requested_then_published_and_the_types_are_unique() -> None:
    firmware = release(expires_at=T0 + timedelta(hours=1))
    assert firmware.status is S.PENDING_UPLOAD
    assert firmware.device_types == ["pump", "valve"]
    assert firmware.object_key == f"firmware/acme/{SHA}"
    assert firmware.expires_at == T0 + timedelta(hours=1)
    firmware.publish(1024, SHA, T0)
    assert (firmware.status, firmware.verified_at, firmware.version) == (S.AVAILABLE, T0, 2)
    assert firmware.firmware_version == "1.4.0"
    firmware.require_available()
    with pytest.raises(InvalidTransition):
        firmware.publish(1024, SHA, T0)  # immutable once published
    with pytest.raises(InvalidTransition):
        firmware.reject("expired")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": "1.4"}, "version"),
        ({"device_types": []}, "deviceTypes"),
        ({"device_types": [f"t{i}" for i in range(17)]}, "deviceTypes"),
        ({"size_bytes": 0}, "sizeBytes"),
        ({"sha256": "AB" * 32}, "sha256"),
        ({"sha256": "ab"}, "sha256"),
    ],
)
def test_bad_releases_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        release(**changes)
    assert caught.value.field == field


def test_a_published_image_must_be_the_requested_one() -> None:
    firmware = release()
    with pytest.raises(InvalidInput) as caught:
        firmware.publish(1024, "cd" * 32, T0)
    assert caught.value.field == "sha256"
    with pytest.raises(InvalidInput) as caught:
        firmware.publish(1023, SHA, T0)
    assert caught.value.field == "sizeBytes"
    assert firmware.mismatch(1024, "cd" * 32) == "checksum_mismatch"
    assert firmware.mismatch(1023, SHA) == "size_mismatch"
    assert firmware.mismatch(1024, SHA) is None
    assert len(firmware.pending_events) == 1  # nothing recorded by the refusals


def test_withdrawn_and_rejected_releases_are_unavailable() -> None:
    firmware = release()
    with pytest.raises(InvalidTransition):
        firmware.withdraw("never published", "user:alice")
    with pytest.raises(FirmwareUnavailable):
        firmware.require_available()
    firmware.publish(1024, SHA, T0)
    assert firmware.withdraw("bricks r1 boards", "user:alice") is True
    assert firmware.withdraw("again", "user:bob") is False  # nothing recorded
    assert (firmware.status, firmware.withdrawn_by) == (S.WITHDRAWN, "user:alice")
    assert firmware.version == 3
    with pytest.raises(FirmwareUnavailable) as caught:
        firmware.require_available()
    assert caught.value.code == "FIRMWARE_UNAVAILABLE"
    rejected = release()
    rejected.reject("missing_object")
    assert (rejected.status, rejected.rejection_reason) == (S.REJECTED, "missing_object")
    with pytest.raises(InvalidInput):
        release().reject("bored")  # type: ignore[arg-type]


def test_markers_are_one_stream_per_tenant_type_and_version_identity() -> None:
    firmware = release(version="1.4.0+build.7")
    markers = claims(firmware)
    assert [m.device_type for m in markers] == ["pump", "valve"]
    assert markers[0].id == uuid5(FLEETWATCH_NS, "acme/firmware/pump/1.4.0")
    assert markers[0].firmware_id == firmware.id
    assert markers[0].firmware_version == "1.4.0+build.7"
    assert markers[0].version == 1  # the stream's version, not the firmware's
    assert firmware_version_id("acme", "pump", "1.4.0+other") == markers[0].id
    assert firmware_version_id("acme", "pump", "1.4.0-rc.1") != markers[0].id
    assert firmware_version_id("other", "pump", "1.4.0") != markers[0].id
    again = FirmwareVersion.claim("acme", "pump", "1.4.0", uuid4())
    assert again.id == markers[0].id  # so the store refuses the second one


def _public_key() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_signing_keys_register_revoke_and_require() -> None:
    keys = SigningKeys.open("acme")
    assert keys.id == uuid5(FLEETWATCH_NS, "acme/firmware-signing") == signing_keys_id("acme")
    first = _public_key()
    key_id = keys.register(first, " release key ")
    assert key_id == key_id_of(first)
    assert keys.register(first, "again") == key_id  # nothing recorded
    assert keys.keys[key_id].label == "release key"
    assert keys.require_signed(True) is True
    assert keys.require_signed(True) is False
    assert keys.revoke(key_id, "leaked") is True
    assert keys.revoke(key_id, "again") is False
    assert keys.keys[key_id].revoked_at is not None
    with pytest.raises(InvalidInput) as caught:
        keys.register(first, "back")  # a revoked key stays revoked
    assert caught.value.field == "publicKey"
    with pytest.raises(NotFound):
        keys.revoke("0" * 16, None)
    with pytest.raises(InvalidInput) as caught:
        keys.register(_public_key(), "  ")
    assert caught.value.field == "label"
    assert len(keys.pending_events) == 4  # Opened, registered, required, revoked
    loaded = replayed(keys)
    assert isinstance(loaded, SigningKeys)
    assert (loaded.keys, loaded.required) == (keys.keys, True)


class FirmwareMachine(RuleBasedStateMachine):
    """Any sequence of commands on one release: it leaves PENDING_UPLOAD once, to AVAILABLE
    (only with the requested image) or REJECTED; only an AVAILABLE release is withdrawn, and a
    WITHDRAWN one stays so; a refused command records nothing; replaying the events gives the
    same state; only an AVAILABLE release may be deployed."""

    def __init__(self) -> None:
        super().__init__()
        self.firmware = release()
        self.model = S.PENDING_UPLOAD
        self.recorded = 1
        self.events: list[Any] = list(self.firmware.collect_events())

    def _expect(
        self, allowed: bool, action: Callable[[], object], then: S, records: bool = True
    ) -> None:
        before = self.firmware.version
        if allowed:
            action()
            self.model = then
            self.recorded += 1 if records else 0
        else:
            with pytest.raises((InvalidTransition, InvalidInput)):
                action()
        assert self.firmware.version == before + (1 if allowed and records else 0)
        self.events.extend(self.firmware.collect_events())

    @rule(same_sha=st.booleans(), same_size=st.booleans())
    def publish(self, same_sha: bool, same_size: bool) -> None:
        sha, size = (SHA if same_sha else "cd" * 32), (1024 if same_size else 7)
        allowed = self.model is S.PENDING_UPLOAD and same_sha and same_size
        self._expect(allowed, lambda: self.firmware.publish(size, sha, T0), S.AVAILABLE)

    @rule(reason=st.sampled_from(REJECTION_REASONS))
    def reject(self, reason: str) -> None:
        allowed = self.model is S.PENDING_UPLOAD
        self._expect(allowed, lambda: self.firmware.reject(reason), S.REJECTED)  # type: ignore[arg-type]

    @rule()
    def withdraw(self) -> None:
        allowed = self.model in (S.AVAILABLE, S.WITHDRAWN)
        records = self.model is S.AVAILABLE
        self._expect(allowed, lambda: self.firmware.withdraw(None, "user:a"), S.WITHDRAWN, records)

    @invariant()
    def the_status_is_the_models(self) -> None:
        assert self.firmware.status is self.model
        assert self.firmware.version == self.recorded == len(self.events)

    @invariant()
    def only_an_available_release_is_deployable(self) -> None:
        if self.model is S.AVAILABLE:
            self.firmware.require_available()
        else:
            with pytest.raises(FirmwareUnavailable):
                self.firmware.require_available()

    @invariant()
    def the_events_rebuild_the_same_release(self) -> None:
        copy: Aggregate | None = None
        for e in self.events:
            copy = e.mutate(copy)
        assert isinstance(copy, Firmware)
        assert (copy.status, copy.version, copy.sha256) == (self.model, self.recorded, SHA)
        assert copy.device_types == self.firmware.device_types


FirmwareMachine.TestCase.settings = settings(
    max_examples=examples(100),
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFirmwareMachine = FirmwareMachine.TestCase
