"""Device credentials: a token shown once, only its hash stored, checked in constant time."""

from __future__ import annotations

import uuid

from write_side.credentials import (
    AccessDenied,
    DeviceAccess,
    DeviceDirectory,
    check_access,
    hash_secret,
    new_credential,
    parse_token,
)

DEVICE = uuid.uuid4()


def access(token: str | None = None, **overrides: object) -> DeviceAccess:
    parts = parse_token(token) if token else None
    fields: dict[str, object] = {
        "device_id": DEVICE,
        "tenant_id": "acme",
        "decommissioned": False,
        "credential_id": parts.credential_id if parts else None,
        "credential_hash": hash_secret(parts.secret) if parts else None,
    }
    return DeviceAccess(**(fields | overrides))  # type: ignore[arg-type]


def test_a_token_names_its_device_and_only_its_hash_is_kept() -> None:
    issued = new_credential(DEVICE)
    parts = parse_token(issued.token)
    assert parts is not None
    assert parts.device_id == DEVICE
    assert parts.credential_id == issued.credential_id
    assert issued.credential_hash == hash_secret(parts.secret)
    assert parts.secret not in issued.credential_hash
    assert len(parts.secret) >= 43  # 32 random bytes, base64url
    assert new_credential(DEVICE).token != issued.token


def test_malformed_tokens_do_not_parse() -> None:
    good = new_credential(DEVICE).token
    for bad in (None, 42, "", "Bearer x", good.replace("fwd1", "fwd2"), good + ".x", "a" * 500):
        assert parse_token(bad) is None


def test_the_current_token_of_an_active_device_is_accepted() -> None:
    token = new_credential(DEVICE).token
    assert check_access(access(token), DEVICE, token) is None


def test_wrong_missing_rotated_or_foreign_tokens_are_unauthenticated() -> None:
    token = new_credential(DEVICE).token
    rotated = new_credential(DEVICE).token
    other = new_credential(uuid.uuid4()).token
    for presented in (None, "nonsense", rotated, other):
        assert check_access(access(token), DEVICE, presented) is AccessDenied.UNAUTHENTICATED
    assert check_access(access(), DEVICE, token) is AccessDenied.UNAUTHENTICATED  # revoked


def test_unknown_and_decommissioned_devices_are_refused() -> None:
    token = new_credential(DEVICE).token
    assert check_access(None, DEVICE, token) is AccessDenied.UNKNOWN_DEVICE
    retired = access(token, decommissioned=True)
    assert check_access(retired, DEVICE, token) is AccessDenied.DEVICE_DECOMMISSIONED


def test_a_trusted_transport_needs_no_token_but_the_right_tenant() -> None:
    assert check_access(access(), DEVICE, None, trusted_tenant="acme") is None
    denied = check_access(access(), DEVICE, None, trusted_tenant="other")
    assert denied is AccessDenied.UNKNOWN_DEVICE
    assert check_access(None, DEVICE, None, trusted_tenant="acme") is AccessDenied.UNKNOWN_DEVICE
    retired = access(decommissioned=True)
    denied = check_access(retired, DEVICE, None, trusted_tenant="acme")
    assert denied is AccessDenied.DEVICE_DECOMMISSIONED


def test_a_proven_device_needs_no_token_and_keeps_its_own_tenant() -> None:
    assert check_access(access(), DEVICE, None, proven=True) is None
    assert check_access(None, DEVICE, None, proven=True) is AccessDenied.UNKNOWN_DEVICE
    retired = access(decommissioned=True)
    assert check_access(retired, DEVICE, None, proven=True) is AccessDenied.DEVICE_DECOMMISSIONED
    assert check_access(access(), DEVICE, "not a token") is AccessDenied.UNAUTHENTICATED


def test_directory_caches_known_and_briefly_unknown_devices() -> None:
    now = [0.0]
    loads: list[uuid.UUID] = []
    known = {DEVICE: access()}

    def load(device_id: uuid.UUID) -> DeviceAccess | None:
        loads.append(device_id)
        return known.get(device_id)

    directory = DeviceDirectory(load, ttl=60, negative_ttl=2, clock=lambda: now[0])
    stranger = uuid.uuid4()
    for _ in range(3):
        assert directory.lookup(DEVICE) is not None
        assert directory.lookup(stranger) is None
    assert loads == [DEVICE, stranger]
    now[0] = 3.0  # past the negative ttl only
    directory.lookup(DEVICE)
    directory.lookup(stranger)
    assert loads == [DEVICE, stranger, stranger]
    now[0] = 4.5
    directory.lookup(DEVICE, max_age=1.0)  # a refused caller may ask for a fresher entry
    assert loads[-1] == DEVICE
    assert len(loads) == 4
    directory.forget(DEVICE)
    directory.lookup(DEVICE)
    assert len(loads) == 5


def test_directory_is_bounded() -> None:
    directory = DeviceDirectory(lambda _: None, max_entries=10)
    for _ in range(50):
        directory.lookup(uuid.uuid4())
    assert len(directory._entries) == 10


def test_the_device_records_issue_rotation_and_revocation_of_its_credential() -> None:
    import pytest

    from write_side.devices import Device
    from write_side.errors import AlreadyDecommissioned

    device = Device(tenant_id="acme", name="p", device_type="pump", tags=[], metadata={})
    assert device.revoke_credential("none yet") is False
    device.issue_credential("aaaa0000", "h1")
    device.issue_credential("bbbb1111", "h2")  # rotation replaces the first
    assert (device.credential_id, device.credential_hash) == ("bbbb1111", "h2")
    assert device.revoke_credential("lost") is True
    assert device.credential_id is None
    kinds = [type(e).__qualname__ for e in device.collect_events()]
    assert kinds[1:] == [
        "Device.CredentialIssued",
        "Device.CredentialIssued",
        "Device.CredentialRevoked",
    ]
    device.decommission("eol")
    with pytest.raises(AlreadyDecommissioned):
        device.issue_credential("cccc2222", "h3")
