"""Personal fields of events, encrypted with a data key per subject (crypto-shredding).

Events are never rewritten (the ledger hashes their stored bytes), so personal data is made
erasable by encrypting it: each field an event type declares personal is stored as
`{"pd": <key id>, "n": <nonce>, "c": <ciphertext>}` (base64), sealed with AES-256-GCM under its
subject's data key, with the stream id, the version and the field name as associated data (a
ciphertext moved to another event or field does not open). The keys live in a `PersonalKeys`
store apart from the events; erasure destroys the subject's keys, and from then on the fields
read as `None` everywhere: the aggregate, the feed, the projections, a replay, the auditors'
history. The stored bytes stay, so the hash chains and the Merkle log still verify.

The subject is the stream (a `User`'s events carry a user's personal data); `None` values are
stored as they are (that a field is unset is not personal). Values written before a field was
declared personal are plaintext and stay readable: only what is sealed can be shredded.

Reads keep a key for `KEY_CACHE_SECONDS` per process (one store read per key, not per event),
so another process may still open a subject's fields for that long after an erasure; the
process that erases forgets at once. A destroyed key is remembered as destroyed.
"""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
KEY_CACHE_SECONDS = 30.0
SEALED = "pd"  # the key of a sealed value's key id; its presence marks a sealed value


class PersonalKeys(Protocol):
    """Where the subjects' data keys live (never in the event store's own tables)."""

    def writing_key(
        self, subject: UUID, make: Callable[[], bytes] | None = None
    ) -> tuple[str, bytes]:
        """The subject's live key (id, its stored bytes), created when it has none: the bytes
        `make()` gives (a wrapped key: `event_store.kms_keys`), by default a new 32-byte key."""
        ...

    def key(self, key_id: str) -> bytes | None:
        """The key `key_id`, or None when it was destroyed (or never existed)."""
        ...

    def destroy(self, subject: UUID) -> int:
        """Destroy every key of the subject; how many there were. Idempotent."""
        ...


def new_key_id(subject: UUID) -> str:
    """`<subject hex>.<random hex>`: a key id names its subject (stores key by subject)."""
    return f"{subject.hex}.{uuid.uuid4().hex[:16]}"


def subject_of(key_id: str) -> UUID:
    return UUID(hex=key_id.split(".", 1)[0])


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class UnreadableField(Exception):
    """A sealed value that its key does not open: the bytes or the key are wrong (tampering),
    not an erasure (an erased value's key is gone, and it reads as None)."""


class PersonalDataCipher:
    """Seals and opens the personal fields of event states, by topic (`fields`: topic -> the
    names of its personal fields)."""

    def __init__(
        self,
        fields: Mapping[str, tuple[str, ...]],
        keys: PersonalKeys,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fields = dict(fields)
        self.keys = keys
        self._clock = clock
        self._cache: dict[str, tuple[bytes | None, float]] = {}
        self._lock = threading.Lock()

    def seal(self, topic: str, stream_id: UUID, version: int, state: dict[str, Any]) -> None:
        """Replace the personal fields of `state` (an event of `topic`) by sealed values."""
        names = self.fields.get(topic)
        if not names:
            return
        writing: tuple[str, bytes] | None = None
        for name in names:
            value = state.get(name)
            if value is None:
                continue
            if writing is None:  # one store read per event, only when there is something
                writing = self.keys.writing_key(stream_id)
            key_id, key = writing
            nonce = os.urandom(NONCE_BYTES)
            sealed = AESGCM(key).encrypt(
                nonce, orjson.dumps(value), _associated(stream_id, version, name)
            )
            state[name] = {SEALED: key_id, "n": _b64(nonce), "c": _b64(sealed)}

    def open(self, topic: str, stream_id: UUID | str, version: int, state: dict[str, Any]) -> None:
        """Replace the sealed fields of `state` by their values; None where the key was
        destroyed. `UnreadableField` when a key exists and does not open its value."""
        names = self.fields.get(topic)
        if not names:
            return
        for name in names:
            value = state.get(name)
            if type(value) is not dict or SEALED not in value:
                continue  # unset, or recorded before the field was declared personal
            key = self._key(str(value[SEALED]))
            if key is None:
                state[name] = None
                continue
            try:
                plain = AESGCM(key).decrypt(
                    base64.b64decode(value["n"]),
                    base64.b64decode(value["c"]),
                    _associated(stream_id, version, name),
                )
            except (InvalidTag, KeyError, ValueError) as e:
                msg = f"{name} of stream {stream_id} version {version} does not open"
                raise UnreadableField(msg) from e
            state[name] = orjson.loads(plain)

    def destroy(self, subject: UUID) -> int:
        """Destroy the subject's keys, and forget them in this process at once."""
        count = self.keys.destroy(subject)
        prefix = f"{subject.hex}."
        with self._lock:
            for key_id in [k for k in self._cache if k.startswith(prefix)]:
                self._cache[key_id] = (None, float("inf"))
        return count

    def _key(self, key_id: str) -> bytes | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = self.keys.key(key_id)
        until = float("inf") if key is None else now + KEY_CACHE_SECONDS
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (key, until)
        return key


class MemoryPersonalKeys:
    """Keys in this process only: for the in-memory event store (`eventsourcing.popo`)."""

    def __init__(self) -> None:
        self._keys: dict[UUID, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    def writing_key(
        self, subject: UUID, make: Callable[[], bytes] | None = None
    ) -> tuple[str, bytes]:
        with self._lock:
            keys = self._keys.setdefault(subject, {})
            if not keys:
                keys[new_key_id(subject)] = (make or new_key)()
            return next(iter(keys.items()))

    def key(self, key_id: str) -> bytes | None:
        with self._lock:
            return self._keys.get(subject_of(key_id), {}).get(key_id)

    def destroy(self, subject: UUID) -> int:
        with self._lock:
            return len(self._keys.pop(subject, {}))


def _associated(stream_id: UUID | str, version: int, name: str) -> bytes:
    stream = stream_id if isinstance(stream_id, UUID) else UUID(str(stream_id))
    return f"{stream}/{version}/{name}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
