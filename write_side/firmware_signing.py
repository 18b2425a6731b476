"""Firmware signatures (docs/firmware.md section 12.1): the signed message, public keys and
their ids, and ed25519 verification (the `cryptography` package; computation only, no I/O).

The signature covers the image's SHA-256 and size, the version and the compatible device types,
so it is checked without the image in memory and cannot be moved to another version or type.
Errors name the field as the API spells it: `signature`, `keyId`, `publicKey`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from write_side.errors import InvalidInput

MESSAGE_PREFIX = "fleetwatch-firmware-v1"
KEY_BYTES = 32
SIGNATURE_BYTES = 64
MAX_PUBLIC_KEY_CHARS = 1024


@dataclass(frozen=True)
class KeyStatus:
    """What verification needs to know of a registered key."""

    public_key: bytes  # raw, 32 bytes
    revoked: bool


def signed_message(
    sha256: str, size_bytes: int, version: str, device_types: Iterable[str]
) -> bytes:
    """The UTF-8 bytes a release's signature is over."""
    types = ",".join(sorted(device_types))
    return f"{MESSAGE_PREFIX}\n{sha256}\n{size_bytes}\n{version}\n{types}".encode()


def parse_public_key(text: str, field: str = "publicKey") -> bytes:
    """The raw 32-byte ed25519 key given as base64 of the raw key, or as a PEM
    SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----")."""
    text = text.strip()
    if not text or len(text) > MAX_PUBLIC_KEY_CHARS:
        raise InvalidInput("an ed25519 public key: base64 of its 32 bytes, or PEM", field)
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_public_key(text.encode())
        except (ValueError, UnsupportedAlgorithm) as e:
            raise InvalidInput("not a readable PEM public key", field) from e
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput("the PEM key is not an ed25519 key", field)
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    raw = _base64(text, field, "the public key")
    if len(raw) != KEY_BYTES:
        raise InvalidInput(f"an ed25519 public key has {KEY_BYTES} bytes, not {len(raw)}", field)
    return raw


def key_id_of(public_key: bytes) -> str:
    """A key's stable id: the first 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def encode_key(public_key: bytes) -> str:
    return base64.b64encode(public_key).decode("ascii")


def decode_key(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def verify(public_key: bytes, message: bytes, signature: str) -> None:
    """`InvalidInput(field="signature")` unless `signature` (base64) is the key's ed25519
    signature of `message`."""
    raw = _base64(signature, "signature", "the signature")
    if len(raw) != SIGNATURE_BYTES:
        raise InvalidInput(f"an ed25519 signature has {SIGNATURE_BYTES} bytes", "signature")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, message)
    except InvalidSignature as e:
        raise InvalidInput("the signature does not verify with that key", "signature") from e


def check_release_signature(
    keys: Mapping[str, KeyStatus],
    required: bool,
    message: bytes,
    signature: str | None,
    key_id: str | None,
) -> None:
    """A release's signature against the tenant's keys: unsigned where signing is required, a
    signature without a key id (or the reverse), an unknown or revoked key, a signature that
    does not verify: each `InvalidInput` naming `signature` or `keyId`. An unsigned release
    where none is required passes; a signed one is always verified."""
    if signature is None and key_id is None:
        if required:
            raise InvalidInput("this tenant requires signed firmware", "signature")
        return
    if signature is None:
        raise InvalidInput("a key id without a signature", "signature")
    if key_id is None:
        raise InvalidInput("a signature needs the id of its key", "keyId")
    key = keys.get(key_id)
    if key is None:
        raise InvalidInput(f"no signing key {key_id!r} is registered", "keyId")
    if key.revoked:
        raise InvalidInput(f"signing key {key_id!r} is revoked", "keyId")
    verify(key.public_key, message, signature)


def _base64(text: str, field: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput(f"{what} is not base64", field) from e
