"""`LocalBlobStore`: firmware images as files under a directory (the embedded default,
`.fleetwatch/blobs/`), streamed in and out 1 MiB at a time.

Layout: `{root}/firmware/{tenant}/{sha256}` (the key is the relative path) and, while being
written, `{root}/.incoming/{random}`; `commit` fsyncs the file and renames it onto its key
(`os.replace`, atomic on one file system: a reader sees the whole image or none).

Presigned downloads: `presign_get` answers a path on the API, `{download_path}/{tenant}/{sha256}
?expires={unix seconds}&signature={hex}`, the signature an HMAC-SHA256 under the store's secret
of the method, key and expiry. The route serving it (`GET /firmware/blobs/...`, with `Range`)
calls `verify_presigned_get` and then `read_range`, so a device's job carries a URL whichever
store is configured. There is no presigned upload: the embedded upload streams through the
API (`POST /firmware/upload`), so `presign_put` is `PresignNotSupported`.
"""

from __future__ import annotations

import hmac
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from hashlib import sha256 as sha256_hash
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from ota.errors import BlobNotFound, PresignedUrlInvalid, PresignNotSupported
from ota.port import (
    CHUNK_SIZE,
    DEFAULT_MAX_BYTES,
    INCOMING_PREFIX,
    BlobInfo,
    Digest,
    PresignedRequest,
    check_lifetime,
    parse_object_key,
)
from ota.ranges import ByteRange
from write_side.firmware_objects import check_sha256, object_key, tenant_segment

DEFAULT_ROOT = Path(".fleetwatch/blobs")
DOWNLOAD_PATH = "/firmware/blobs"


class LocalBlobWriter:
    def __init__(self, root: Path, tenant_id: str, expected: str | None, max_bytes: int) -> None:
        self._root = root
        self._tenant_id = tenant_id
        self._expected = expected
        self._digest = Digest(max_bytes)
        incoming = root / INCOMING_PREFIX
        incoming.mkdir(parents=True, exist_ok=True)
        self.path = incoming / uuid.uuid4().hex
        self._file: BinaryIO | None = self.path.open("xb")
        self._done = False

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise RuntimeError("the writer is closed")
        try:
            self._digest.update(chunk)
            self._file.write(chunk)
        except BaseException:
            self.abort()
            raise

    def commit(self) -> BlobInfo:
        if self._file is None:
            raise RuntimeError("the writer is closed")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            sha = self._digest.verify(self._expected)
            key = object_key(self._tenant_id, sha)
            final = self._root / key
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, final)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return BlobInfo(key=key, size=self._digest.size, sha256=sha)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._done:
            self.path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.abort()  # after commit: nothing to do


class LocalBlobStore:
    def __init__(
        self,
        root: Path = DEFAULT_ROOT,
        *,
        url_secret: bytes,
        max_bytes: int = DEFAULT_MAX_BYTES,
        download_path: str = DOWNLOAD_PATH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url_secret:
            raise ValueError("the local blob store needs a secret to sign download URLs")
        self.root = root
        self.max_bytes = max_bytes
        self.download_path = download_path.rstrip("/")
        self._secret = url_secret
        self._clock = clock

    def open_writer(
        self, tenant_id: str, *, expected_sha256: str | None = None, max_bytes: int | None = None
    ) -> LocalBlobWriter:
        expected = None if expected_sha256 is None else check_sha256(expected_sha256)
        limit = self.max_bytes if max_bytes is None else max_bytes
        return LocalBlobWriter(self.root, tenant_id, expected, limit)

    def _path(self, key: str) -> Path:
        parse_object_key(key)  # only firmware keys: never a path outside the root
        return self.root / key

    def head(self, key: str) -> BlobInfo | None:
        try:
            size = self._path(key).stat().st_size
        except FileNotFoundError:
            return None
        return BlobInfo(key=key, size=size, sha256=parse_object_key(key)[1])

    def read_range(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        try:
            file = self._path(key).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        if byte_range is None:
            return _chunks(file, 0, None)
        return _chunks(file, byte_range.start, byte_range.length)

    def presign_put(
        self, tenant_id: str, sha256: str, size: int, expires_in: int
    ) -> PresignedRequest:
        raise PresignNotSupported(
            "the local blob store has no presigned upload: POST /firmware/upload streams it"
        )

    def presign_get(self, key: str, expires_in: int) -> PresignedRequest:
        tenant, sha = parse_object_key(key)
        expires = int(self._clock()) + check_lifetime(expires_in)
        signature = self._sign("GET", key, expires)
        path = f"{self.download_path}/{tenant_segment(tenant)}/{sha}"
        url = f"{path}?expires={expires}&signature={signature}"
        return PresignedRequest("GET", url, datetime.fromtimestamp(expires, UTC))

    def verify_presigned_get(self, key: str, expires: int, signature: str) -> None:
        """`PresignedUrlInvalid` unless `signature` is `presign_get`'s for `key` and `expires`
        and that time has not passed."""
        expected = self._sign("GET", key, expires)
        if not hmac.compare_digest(expected, signature):
            raise PresignedUrlInvalid("the download URL's signature does not match")
        if self._clock() >= expires:
            raise PresignedUrlInvalid("the download URL has expired")

    def _sign(self, method: str, key: str, expires: int) -> str:
        message = f"{method}\n{key}\n{expires}".encode()
        return hmac.new(self._secret, message, sha256_hash).hexdigest()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def sweep_incoming(self, older_than_s: float) -> int:
        """Remove temporary files a crashed writer left (older than `older_than_s`)."""
        incoming = self.root / INCOMING_PREFIX
        if not incoming.is_dir():
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for path in incoming.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _chunks(file: BinaryIO, start: int, length: int | None) -> Iterator[bytes]:
    with file:
        file.seek(start)
        left = length
        while left is None or left > 0:
            chunk = file.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
