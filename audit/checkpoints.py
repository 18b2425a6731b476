"""Signed checkpoints of a tenant's log (docs/audit.md section 19.4): the signed text, ed25519
signing and verification with the `cryptography` package. Pure: no I/O.

The signature covers the format name, the tenant, the tree size, the root, the feed position
the log covers and the time, one per line, so it cannot be moved to another tenant or size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "fleetwatch.checkpoint.v1"
SEED_BYTES = 32


@dataclass(frozen=True)
class Checkpoint:
    tenant_id: str
    tree_size: int
    root: bytes
    position: int  # the feed position the log covers
    issued_at: str  # ISO 8601
    key_id: str
    signature: bytes

    def body(self) -> bytes:
        return checkpoint_body(
            self.tenant_id, self.tree_size, self.root, self.position, self.issued_at
        )


def checkpoint_body(
    tenant_id: str, tree_size: int, root: bytes, position: int, issued_at: str
) -> bytes:
    """The UTF-8 bytes a checkpoint's signature is over."""
    return f"{FORMAT}\n{tenant_id}\n{tree_size}\n{root.hex()}\n{position}\n{issued_at}".encode()


class SigningKey:
    """An ed25519 private key and the id of its public key."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"an ed25519 seed is {SEED_BYTES} bytes, not {len(seed)}")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_base64(cls, text: str) -> SigningKey:
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except binascii.Error as e:
            raise ValueError(f"not base64 of a {SEED_BYTES}-byte ed25519 seed") from e

    def sign(
        self, tenant_id: str, tree_size: int, root: bytes, position: int, issued_at: datetime
    ) -> Checkpoint:
        when = issued_at.isoformat()
        body = checkpoint_body(tenant_id, tree_size, root, position, when)
        return Checkpoint(
            tenant_id, tree_size, root, position, when, self.key_id, self._key.sign(body)
        )


def key_id(public_key: bytes) -> str:
    """The first 16 hex digits of the raw public key's SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def verify_checkpoint(checkpoint: Checkpoint, public_key: bytes) -> bool:
    """Whether `checkpoint` is signed by the key `public_key` (raw 32 bytes)."""
    if key_id(public_key) != checkpoint.key_id:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            checkpoint.signature, checkpoint.body()
        )
    except (InvalidSignature, ValueError):
        return False
    return True
