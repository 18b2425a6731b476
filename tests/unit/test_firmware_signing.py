"""Firmware signatures (write_side/firmware_signing.py): the signed message of docs/firmware.md
12.1, keys as base64 or PEM and their ids, ed25519 verification and the checks of a release's
signature against a tenant's keys (valid, invalid, unknown key, revoked key, unsigned where
required), each refusal naming `signature` or `keyId`."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from write_side.errors import InvalidInput
from write_side.firmware_signing import (
    KeyStatus,
    check_release_signature,
    key_id_of,
    parse_public_key,
    signed_message,
    verify,
)

SHA = "ab" * 32


def _raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _sign(private: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private.sign(message)).decode()


def test_the_signed_message_is_the_designed_one() -> None:
    message = signed_message(SHA, 1024, "1.4.0-rc.1+b7", ["valve", "pump", "fan"])
    assert message == f"fleetwatch-firmware-v1\n{SHA}\n1024\n1.4.0-rc.1+b7\nfan,pump,valve".encode()


def test_public_keys_as_base64_or_pem_have_one_stable_id() -> None:
    private = Ed25519PrivateKey.generate()
    raw = _raw(private)
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    assert parse_public_key(base64.b64encode(raw).decode()) == raw
    assert parse_public_key(pem.decode()) == raw
    assert key_id_of(raw) == hashlib.sha256(raw).hexdigest()[:16]
    assert len(key_id_of(raw)) == 16


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(b"x" * 33).decode(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode(),  # a PEM key of another algorithm
        "A" * 2000,
    ],
)
def test_bad_public_keys_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_public_key(text)
    assert caught.value.field == "publicKey"


def test_a_valid_signature_verifies_and_a_moved_one_does_not() -> None:
    private = Ed25519PrivateKey.generate()
    message = signed_message(SHA, 10, "1.4.0", ["pump"])
    signature = _sign(private, message)
    verify(_raw(private), message, signature)
    for other in (
        signed_message(SHA, 10, "1.4.1", ["pump"]),  # another version
        signed_message(SHA, 10, "1.4.0", ["pump", "valve"]),  # another type
        signed_message(SHA, 11, "1.4.0", ["pump"]),  # another size
        signed_message("cd" * 32, 10, "1.4.0", ["pump"]),  # another image
    ):
        with pytest.raises(InvalidInput) as caught:
            verify(_raw(private), other, signature)
        assert caught.value.field == "signature"


@pytest.mark.parametrize("signature", ["***", base64.b64encode(b"s" * 63).decode()])
def test_a_malformed_signature_names_the_field(signature: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        verify(_raw(Ed25519PrivateKey.generate()), b"m", signature)
    assert caught.value.field == "signature"


def _keys() -> tuple[Ed25519PrivateKey, Ed25519PrivateKey, dict[str, KeyStatus]]:
    good, revoked = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = {
        key_id_of(_raw(good)): KeyStatus(_raw(good), revoked=False),
        key_id_of(_raw(revoked)): KeyStatus(_raw(revoked), revoked=True),
    }
    return good, revoked, keys


MESSAGE = signed_message(SHA, 10, "1.4.0", ["pump"])


def test_release_signature_checks() -> None:
    good, revoked, keys = _keys()
    good_id, revoked_id = key_id_of(_raw(good)), key_id_of(_raw(revoked))
    for required in (False, True):
        check_release_signature(keys, required, MESSAGE, _sign(good, MESSAGE), good_id)
    check_release_signature(keys, False, MESSAGE, None, None)  # unsigned, not required

    stranger = Ed25519PrivateKey.generate()
    refusals = [
        ((True, None, None), "signature"),  # unsigned where required
        ((False, _sign(good, MESSAGE), None), "keyId"),  # signature without its key
        ((False, None, good_id), "signature"),  # key id without a signature
        ((False, _sign(stranger, MESSAGE), key_id_of(_raw(stranger))), "keyId"),  # unknown
        ((False, _sign(revoked, MESSAGE), revoked_id), "keyId"),  # revoked
        ((False, _sign(stranger, MESSAGE), good_id), "signature"),  # not the key's signature
        ((True, _sign(good, b"other"), good_id), "signature"),  # over another message
    ]
    for (required, signature, key_id), field in refusals:
        with pytest.raises(InvalidInput) as caught:
            check_release_signature(keys, required, MESSAGE, signature, key_id)
        assert caught.value.field == field, (required, signature, key_id)
