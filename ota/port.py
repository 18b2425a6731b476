"""The `BlobStore` port: firmware images stored once per content, streamed in and out.

Keys are content-addressed, `firmware/{tenant}/{sha256}` (`object_key`, the domain's
`write_side.firmware_objects`, which the release records): one image compatible
with several device types is stored once, and a second upload of the same bytes lands on the
same key. A writer (`open_writer`) streams the body to a temporary key under `.incoming/`,
computing SHA-256 and the size as it goes and refusing the byte past `max_bytes`
(`BlobTooLarge`, nothing kept); only `commit` moves it to the final key, after the checksum the
client expected (if any) was compared (`InvalidInput(field="sha256")`, nothing kept).

    with store.open_writer("acme", expected_sha256=sha) as writer:
        for chunk in body:            # chunks of any size; the API reads 1 MiB at a time
            writer.write(chunk)
        blob = writer.commit()        # BlobInfo(key, size, sha256)
    store.read_range(blob.key, ByteRange(0, 1023))   # an iterator of bytes

A writer left without `commit` (an exception, or the `with` block simply ends) is aborted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import unquote

from ota.errors import BlobTooLarge
from ota.ranges import ByteRange
from write_side.errors import InvalidInput
from write_side.firmware_objects import KEY_PREFIX, SHA256_HEX, tenant_segment

CHUNK_SIZE = 1024 * 1024  # reads and writes move at most this much at a time
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # FLEETWATCH_FIRMWARE_MAX_BYTES
INCOMING_PREFIX = ".incoming"


MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit, kept by every store


def check_lifetime(expires_in: int) -> int:
    """A presigned request's lifetime in seconds: 1 s to 7 days; ValueError otherwise (the
    caller's bug, never a client's input)."""
    if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"a presigned URL lives 1 s to 7 days, not {expires_in} s")
    return expires_in


def parse_object_key(key: str) -> tuple[str, str]:
    """(tenant, sha256) of a key made by `object_key`; `InvalidInput(field="key")` otherwise."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not SHA256_HEX.match(parts[2]):
        raise InvalidInput(f"not a firmware object key: {key!r}", field="key")
    tenant = unquote(parts[1])
    if not tenant.strip() or tenant_segment(tenant) != parts[1]:
        raise InvalidInput(f"not a firmware object key: {key!r}", field="key")
    return tenant, parts[2]


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    # The content's SHA-256 (hex) as the store vouches for it: computed by our writer, or
    # verified by S3 from a presigned upload's `x-amz-checksum-sha256`. None when unknown.
    sha256: str | None


@dataclass(frozen=True)
class PresignedRequest:
    """A request a client (a device, an uploader) makes without credentials until
    `expires_at`: `method` on `url` with exactly `headers`. A local store's `url` is a path on
    the API (docs/firmware.md section 12.1)."""

    method: str
    url: str
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict)


class Digest:
    """SHA-256 and size of a stream, refusing the byte past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self.max_bytes:
            raise BlobTooLarge(self.max_bytes)
        self._hash.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def verify(self, expected_sha256: str | None) -> str:
        """The SHA-256 computed; `InvalidInput(field="sha256")` when it is not the expected."""
        actual = self.hexdigest()
        if expected_sha256 is not None and actual != expected_sha256:
            raise InvalidInput(
                f"the body's SHA-256 is {actual}, not the {expected_sha256} given",
                field="sha256",
            )
        return actual


class BlobWriter(Protocol):
    def write(self, chunk: bytes) -> None:
        """Append `chunk`; `BlobTooLarge` past the limit (the writer is then aborted)."""

    def commit(self) -> BlobInfo:
        """Verify and move to the final key; `InvalidInput(field="sha256")` on a mismatch
        (the writer is then aborted). Idempotent over content: an existing blob stays."""

    def abort(self) -> None:
        """Discard what was written; safe to call twice, or after `commit`."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class BlobStore(Protocol):
    max_bytes: int

    def open_writer(
        self, tenant_id: str, *, expected_sha256: str | None = None, max_bytes: int | None = None
    ) -> BlobWriter:
        """A streaming writer for one image of `tenant_id` (`max_bytes`: the store's default)."""

    def head(self, key: str) -> BlobInfo | None:
        """Size (and SHA-256) of the blob at `key`; None when there is none."""

    def read_range(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        """The blob's bytes (all of them, or `byte_range`, already satisfiable: see
        `ota.ranges.parse_range`) in chunks of at most `CHUNK_SIZE`; `BlobNotFound`."""

    def presign_put(
        self, tenant_id: str, sha256: str, size: int, expires_in: int
    ) -> PresignedRequest:
        """An upload of exactly that content straight to its final key (S3 verifies the
        checksum); `PresignNotSupported` where the store cannot."""

    def presign_get(self, key: str, expires_in: int) -> PresignedRequest:
        """A download of `key` that works until `expires_in` seconds from now."""

    def delete(self, key: str) -> None:
        """Remove the blob; nothing happens when there is none."""

    def sweep_incoming(self, older_than_s: float) -> int:
        """Remove what writers left under `.incoming/` (a crash mid-upload) longer ago than
        `older_than_s`: files, objects, unfinished multipart uploads; how many."""
