"""The `SigningKeys` aggregate: a tenant's ed25519 keys for firmware and whether it requires
signed firmware (docs/firmware.md sections 12.1 and 12.6).

One stream per tenant, id `uuid5(FLEETWATCH_NS, "{tenant}/firmware-signing")`, started by its
first change (`Opened`, then the change in the same save, as `User` is). A revoked key stays
known (a release signed with it is refused, and the key cannot be registered again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from write_side.errors import InvalidInput, NotFound
from write_side.event_names import event_name, name_of
from write_side.firmware_signing import (
    KeyStatus,
    check_release_signature,
    decode_key,
    encode_key,
    key_id_of,
)
from write_side.uuids import FLEETWATCH_NS

MAX_LABEL = 120
MAX_KEYS = 64


def signing_keys_id(tenant_id: str) -> UUID:
    return uuid5(FLEETWATCH_NS, f"{tenant_id}/firmware-signing")


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    label: str
    registered_at: datetime
    revoked_at: datetime | None = None


class SigningKeys(Aggregate):
    """Create with `SigningKeys.open(tenant_id)`; the methods record only real changes."""

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return signing_keys_id(tenant_id)

    @classmethod
    def open(cls, tenant_id: str) -> SigningKeys:
        return cls(tenant_id=tenant_id)

    @event("Opened")
    def __init__(self, *, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.keys: dict[str, SigningKey] = {}  # in registration order
        self.required = False

    def register(self, public_key: bytes, label: str) -> str:
        """Register a raw ed25519 key; its id. Registering an active key again records nothing;
        a revoked key cannot come back (`publicKey` names it)."""
        label = label.strip()
        if not 1 <= len(label) <= MAX_LABEL:
            raise InvalidInput(f"a label has 1..{MAX_LABEL} characters", "label")
        key_id = key_id_of(public_key)
        known = self.keys.get(key_id)
        if known is not None:
            if known.revoked_at is not None:
                raise InvalidInput(f"signing key {key_id} was revoked", "publicKey")
            return key_id
        if len(self.keys) >= MAX_KEYS:
            raise InvalidInput(f"a tenant has at most {MAX_KEYS} signing keys", "publicKey")
        self.trigger_event(
            self.KeyRegistered, key_id=key_id, public_key=encode_key(public_key), label=label
        )
        return key_id

    def revoke(self, key_id: str, reason: str | None) -> bool:
        """Revoke a key; False (nothing recorded) when it is revoked already."""
        key = self.keys.get(key_id)
        if key is None:
            raise NotFound(f"signing key {key_id} not found")
        if key.revoked_at is not None:
            return False
        self.trigger_event(self.KeyRevoked, key_id=key_id, reason=reason)
        return True

    def require_signed(self, required: bool) -> bool:
        """Set whether releases must be signed; False (nothing recorded) when unchanged."""
        if required == self.required:
            return False
        self._requirement_changed(required=required)
        return True

    def check(self, message: bytes, signature: str | None, key_id: str | None) -> None:
        """A release's signature against these keys and the requirement (`InvalidInput` naming
        `signature` or `keyId`)."""
        statuses = {
            k.key_id: KeyStatus(decode_key(k.public_key), k.revoked_at is not None)
            for k in self.keys.values()
        }
        check_release_signature(statuses, self.required, message, signature, key_id)

    @event("RequirementChanged")
    def _requirement_changed(self, required: bool) -> None:
        self.required = required

    class KeyRegistered(Aggregate.Event):
        key_id: str
        public_key: str
        label: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, SigningKeys)
            aggregate.keys[self.key_id] = SigningKey(
                self.key_id, self.public_key, self.label, registered_at=self.timestamp
            )

    class KeyRevoked(Aggregate.Event):
        key_id: str
        reason: str | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, SigningKeys)
            key = aggregate.keys[self.key_id]
            aggregate.keys[self.key_id] = SigningKey(
                key.key_id, key.public_key, key.label, key.registered_at, self.timestamp
            )


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
SIGNING_KEYS_OPENED = event_name(SigningKeys, "Opened")
SIGNING_KEY_REGISTERED = name_of(SigningKeys.KeyRegistered)
SIGNING_KEY_REVOKED = name_of(SigningKeys.KeyRevoked)
SIGNING_REQUIREMENT_CHANGED = event_name(SigningKeys, "RequirementChanged")
SIGNING_KEYS_EVENTS = (
    SIGNING_KEYS_OPENED,
    SIGNING_KEY_REGISTERED,
    SIGNING_KEY_REVOKED,
    SIGNING_REQUIREMENT_CHANGED,
)
