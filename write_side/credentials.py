"""Device credentials: a random token shown once, stored only as a hash; and who may ingest.

A token reads `fwd1.{device_id_hex}.{credential_id}.{secret}`: the device id and a public
credential id (8 hex chars) let the verifier find the stored hash without a scan; `secret` is 32
random bytes (256 bits), base64url. Only `sha256(secret)` is stored (`Device.CredentialIssued`).

Why a fast hash is enough here: slow password hashes (bcrypt, scrypt, argon2) exist to make
guessing *low-entropy, human-chosen* secrets expensive after a leak of the hashes. A uniformly
random 256-bit secret cannot be guessed whatever the hash speed (2^256 candidates), so SHA-256
gives the same protection, and it keeps verification at about a microsecond, which matters when
every one of 10,000 messages per second carries a token. Comparison is constant-time. Parsed
tokens (with their hash) are memoised per process (65,536 of them, least recently used first):
a device sends the same token with every message.

`DeviceDirectory` caches what verification needs per device (tenant, lifecycle, credential) for
`ttl` seconds; `forget(device_id)` drops an entry at once (called when the device changes).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import StringConstraints

from write_side.commands import Command
from write_side.uuids import parse_uuid

TOKEN_PREFIX = "fwd1"
ALGORITHM = "sha256"
HEARTBEAT_METADATA_KEY = "fleetwatch.heartbeat_timeout_s"


class IssueDeviceCredential(Command):
    """Issue a new credential for a device; any previous one stops working (rotation)."""

    device_id: UUID


class RevokeDeviceCredential(Command):
    device_id: UUID
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


@dataclass(frozen=True)
class NewCredential:
    token: str  # shown once, never stored
    credential_id: str
    credential_hash: str


@dataclass(frozen=True, slots=True)
class TokenParts:
    device_id: UUID
    credential_id: str
    secret: str
    secret_hash: str  # `hash_secret(secret)`, computed once per parse


def new_credential(device_id: UUID) -> NewCredential:
    credential_id = secrets.token_hex(4)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    token = f"{TOKEN_PREFIX}.{device_id.hex}.{credential_id}.{secret}"
    return NewCredential(token, credential_id, hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: object) -> TokenParts | None:
    """The parts of a well-formed token; None for anything else."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    return _parse_token(token)


@functools.lru_cache(maxsize=65_536)  # a fleet's devices send the same token again and again
def _parse_token(token: str) -> TokenParts | None:
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_PREFIX or len(parts[2]) != 8 or not parts[3]:
        return None
    try:
        device_id = parse_uuid(parts[1])  # the same as UUID(hex=...)
    except ValueError:
        return None
    return TokenParts(device_id, parts[2], parts[3], hash_secret(parts[3]))


class AccessDenied(StrEnum):
    """Why a message was refused before any of it was looked at (message-level codes)."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"
    DEVICE_DECOMMISSIONED = "DEVICE_DECOMMISSIONED"


def own_heartbeat_timeout(metadata: Mapping[str, str]) -> int | None:
    """A device's own heartbeat timeout from its metadata (`HEARTBEAT_METADATA_KEY`); None
    when absent or not a plain positive whole number of seconds (ASCII digits, at most a
    year)."""
    value = metadata.get(HEARTBEAT_METADATA_KEY, "")
    if not (value.isascii() and value.isdigit()):
        return None
    seconds = int(value)
    return seconds if 0 < seconds <= 366 * 24 * 3600 else None


@dataclass(frozen=True)
class DeviceAccess:
    """What ingestion needs to know about a registered device."""

    device_id: UUID
    tenant_id: str
    decommissioned: bool
    credential_id: str | None
    credential_hash: str | None
    heartbeat_timeout_s: int | None = None  # from metadata `fleetwatch.heartbeat_timeout_s`

    def verify(self, token: TokenParts) -> bool:
        if self.credential_id is None or self.credential_hash is None:
            return False
        same_id = hmac.compare_digest(token.credential_id, self.credential_id)
        same_hash = hmac.compare_digest(token.secret_hash, self.credential_hash)
        return same_id and same_hash


def check_access(
    access: DeviceAccess | None,
    device_id: UUID,
    token: object,
    trusted_tenant: str | None = None,
    *,
    proven: bool = False,
) -> AccessDenied | None:
    """None when the message may be stored for `device_id`.

    `trusted_tenant` is set only by transports that authenticated the device themselves (AWS IoT
    Core: X.509 certificate bound to the client id); then no token is needed, but the device must
    still exist in that tenant and be active. `proven`: the transport proved the device id (a
    broker that checked the device's certificate, whose name is the id) but not the tenant;
    then the device must exist, in its own tenant, and be active. Otherwise the token must be
    the device's current one. Unknown devices are reported only to callers holding a
    well-formed token for that id.
    """
    if proven:
        if access is None:
            return AccessDenied.UNKNOWN_DEVICE
    elif trusted_tenant is None:
        parts = token if isinstance(token, TokenParts) else parse_token(token)
        if parts is None or parts.device_id != device_id:
            return AccessDenied.UNAUTHENTICATED
        if access is None:
            return AccessDenied.UNKNOWN_DEVICE
        if not access.verify(parts):
            return AccessDenied.UNAUTHENTICATED
    elif access is None or access.tenant_id != trusted_tenant:
        return AccessDenied.UNKNOWN_DEVICE
    if access.decommissioned:
        return AccessDenied.DEVICE_DECOMMISSIONED
    return None


class DeviceDirectory:
    """A bounded, thread-safe cache of `DeviceAccess` in front of `load` (the Device aggregate).

    Known devices are kept `ttl` seconds, unknown ones `negative_ttl` seconds (so a flood of
    messages for a bogus id does not become a flood of store reads). A caller whose check failed
    on a cached entry may ask again with `max_age` (e.g. 1 s): a credential issued or a device
    registered a moment ago then works at once, while a revoked credential or a decommissioned
    device keeps working for at most `ttl` seconds in processes that cached it.
    """

    def __init__(
        self,
        load: Callable[[UUID], DeviceAccess | None],
        ttl: float = 60.0,
        negative_ttl: float = 2.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[UUID, tuple[float, DeviceAccess | None]] = OrderedDict()

    def lookup(self, device_id: UUID, max_age: float | None = None) -> DeviceAccess | None:
        now = self._clock()
        with self._lock:
            cached = self._entries.get(device_id)
        if cached is not None:
            loaded_at, access = cached
            limit = self._ttl if access is not None else self._negative_ttl
            if now - loaded_at < (limit if max_age is None else min(limit, max_age)):
                return access
        access = self._load(device_id)
        with self._lock:
            self._entries[device_id] = (now, access)
            self._entries.move_to_end(device_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return access

    def forget(self, device_id: UUID) -> None:
        with self._lock:
            self._entries.pop(device_id, None)
