"""The subjects' data keys wrapped by AWS KMS (envelope encryption, docs/audit.md 19.7).

With `FLEETWATCH_PERSONAL_KEYS_KMS_KEY` set (a KMS key id, ARN or alias), a subject's new data
key comes from KMS `GenerateDataKey` and only its wrapped form (the `CiphertextBlob`) is stored
in the keys table (SQLite file or DynamoDB table); every read unwraps it with `Decrypt`. So a
copy of the keys table opens nothing without the KMS key, each unwrap is in KMS's own audit
trail (CloudTrail), and deleting the KMS key shreds every subject's personal data at once.
The encryption context names the subject (`fleetwatch:subject`): a wrapped key copied to
another subject's row does not unwrap (read as tampering: `UnreadableField`).

- A stored key of 32 bytes is a key stored before KMS was turned on: used as it is (nothing
  is rewritten; erasure destroys it as before).
- A key whose KMS key no longer exists (`NotFoundException`: deleted) reads as destroyed.
  Any other failure (throttling, a disabled key, KMS unreachable) is raised: a read fails
  loudly and is retried, it never turns personal data into None by accident.
- Unwrapped keys are kept `KEY_CACHE_SECONDS` in this process (one `Decrypt` per key and
  half-minute, not per event); `destroy` forgets the subject's at once.

The region and credentials are boto3's (`AWS_REGION`, ...); `AWS_ENDPOINT_URL_KMS` points it
elsewhere (the tests: moto's server mode).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError

from event_store.personal_data import (
    KEY_BYTES,
    KEY_CACHE_SECONDS,
    PersonalKeys,
    UnreadableField,
    subject_of,
)

KMS_KEY = "PERSONAL_KEYS_KMS_KEY"  # the factories' environment key (Settings: FLEETWATCH_...)
CONTEXT = "fleetwatch:subject"


class KmsWrappedKeys:
    """`PersonalKeys` whose stored keys are wrapped by the KMS key `kms_key` (see the module)."""

    def __init__(
        self,
        stored: PersonalKeys,
        client: Any,
        kms_key: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stored = stored
        self.client = client
        self.kms_key = kms_key
        self._clock = clock
        self._writing: dict[UUID, tuple[str, bytes, float]] = {}
        self._lock = threading.Lock()

    def writing_key(
        self, subject: UUID, make: Callable[[], bytes] | None = None
    ) -> tuple[str, bytes]:
        now = self._clock()
        with self._lock:
            cached = self._writing.get(subject)
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]
        made: dict[bytes, bytes] = {}  # the wrapped key made here -> its plaintext

        def wrapped() -> bytes:
            out = self.client.generate_data_key(
                KeyId=self.kms_key, KeySpec="AES_256", EncryptionContext=_context(subject)
            )
            made[out["CiphertextBlob"]] = out["Plaintext"]
            return bytes(out["CiphertextBlob"])

        key_id, stored = self.stored.writing_key(subject, wrapped)
        key = made.get(stored) or self._unwrap(key_id, stored)
        if key is None:  # its KMS key is gone: no new personal data can be written under it
            raise UnreadableField(f"the data key {key_id} is wrapped by a deleted KMS key")
        with self._lock:
            self._writing[subject] = (key_id, key, now + KEY_CACHE_SECONDS)
        return key_id, key

    def key(self, key_id: str) -> bytes | None:
        stored = self.stored.key(key_id)
        return None if stored is None else self._unwrap(key_id, stored)

    def destroy(self, subject: UUID) -> int:
        with self._lock:
            self._writing.pop(subject, None)
        return self.stored.destroy(subject)

    def _unwrap(self, key_id: str, stored: bytes) -> bytes | None:
        if len(stored) == KEY_BYTES:
            return stored  # stored before KMS wrapped the keys
        try:
            out = self.client.decrypt(
                CiphertextBlob=stored, EncryptionContext=_context(subject_of(key_id))
            )
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "NotFoundException":
                return None  # the KMS key was deleted: shredded
            if code == "InvalidCiphertextException":
                msg = f"the data key {key_id} does not unwrap for its subject"
                raise UnreadableField(msg) from e
            raise
        return bytes(out["Plaintext"])


def _context(subject: UUID) -> dict[str, str]:
    return {CONTEXT: subject.hex}


def wrapped_if_configured(stored: PersonalKeys, kms_key: str | None) -> PersonalKeys:
    """The store as it is, or wrapped by `kms_key` (a boto3 KMS client of the environment)."""
    if not kms_key:
        return stored
    import boto3

    return KmsWrappedKeys(stored, boto3.client("kms"), kms_key)
