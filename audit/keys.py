"""The checkpoints' keys (docs/audit.md section 19.4): which key signs a tenant's checkpoints,
and which public keys a tenant's checkpoints may be signed by. Pure: no I/O.

A tenant given its own key has its checkpoints signed by it; every other tenant's are signed
by the system's key. A tenant's checkpoints verify with its own key, with the public keys
retired for it, and with the system's keys (the current one and those retired for the system,
under `SYSTEM`): the system's keys are the operator's, and a tenant's older checkpoints were
signed by them before it had a key of its own. A tenant's key, current or retired, never
verifies another tenant's checkpoint, so a leaked tenant key cannot forge anybody else's.

Rotation: the new key signs from the next checkpoint on, and the old public key is listed as
retired so that the checkpoints it signed still verify.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from audit.checkpoints import Checkpoint, SigningKey, key_id, verify_checkpoint

SYSTEM = "*"  # the retired keys' entry for the system's own keys
PUBLIC_KEY_BYTES = 32


@dataclass(frozen=True)
class KeyRing:
    system: SigningKey
    tenants: Mapping[str, SigningKey] = field(default_factory=dict)
    retired: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)  # raw public keys

    def signer(self, tenant_id: str) -> SigningKey:
        """The key that signs `tenant_id`'s checkpoints."""
        return self.tenants.get(tenant_id, self.system)

    def trusted(self, tenant_id: str) -> dict[str, bytes]:
        """The public keys (by key id) a checkpoint of `tenant_id` may be signed by."""
        keys = [self.system.public_key, *self.retired.get(SYSTEM, ())]
        own = self.tenants.get(tenant_id)
        if own is not None:
            keys.append(own.public_key)
        keys += self.retired.get(tenant_id, ())
        return {key_id(key): key for key in keys}

    def check(self, checkpoint: Checkpoint) -> str | None:
        """None when `checkpoint` is signed by a key trusted for its tenant; else why not."""
        public_key = self.trusted(checkpoint.tenant_id).get(checkpoint.key_id)
        if public_key is None:
            return (
                f"signed by key {checkpoint.key_id}, which is neither the tenant's nor the "
                "system's (current or retired)"
            )
        if not verify_checkpoint(checkpoint, public_key):
            return f"the signature does not verify with key {checkpoint.key_id}"
        return None


def parse_key_ring(
    system: SigningKey,
    tenant_seeds: Mapping[str, str],
    retired: Mapping[str, list[str]],
) -> KeyRing:
    """The ring from base64 text: each tenant's 32-byte seed, and the retired raw public keys
    by tenant (`SYSTEM` for the system's). ValueError naming the tenant of a bad key."""
    tenants: dict[str, SigningKey] = {}
    for tenant_id, seed in tenant_seeds.items():
        try:
            tenants[tenant_id] = SigningKey.from_base64(seed)
        except ValueError as e:
            raise ValueError(f"the signing key of tenant {tenant_id!r}: {e}") from None
    old: dict[str, tuple[bytes, ...]] = {}
    for owner, keys in retired.items():
        old[owner] = tuple(_public_key(owner, text) for text in keys)
    return KeyRing(system, tenants, old)


def _public_key(owner: str, text: str) -> bytes:
    whose = "the system" if owner == SYSTEM else f"tenant {owner!r}"
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != PUBLIC_KEY_BYTES:
        size = f"{PUBLIC_KEY_BYTES}-byte public key"
        raise ValueError(f"a retired key of {whose}, {text!r}: not base64 of a {size}")
    return raw


def public_text(public_key: bytes) -> str:
    """A raw public key as the settings and the auditor's export write it (base64)."""
    return base64.b64encode(public_key).decode()
