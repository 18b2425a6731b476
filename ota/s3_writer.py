"""The S3 store's streaming writer: a multipart upload of fixed-size parts, so a body of any
size holds at most one part (plus the chunk being appended) in memory.

The checksum is known only when the last byte is in, so the upload goes to a temporary key
(`.incoming/{random}`); a mismatch aborts the multipart upload before it is completed (no
object ever exists), a match completes it, copies it server-side to `firmware/{tenant}/{sha256}`
(recording the SHA-256 in the object's metadata) and deletes the temporary object. A body
smaller than one part is a single PutObject. A bucket lifecycle rule on `.incoming/` (abort
incomplete multipart uploads, expire objects after a day) sweeps what a crashed process left.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Self

from ota.port import INCOMING_PREFIX, BlobInfo, Digest
from write_side.firmware_objects import object_key

PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (but the last): the least memory per upload
MAX_COPY_BYTES = 5 * 1024**3  # CopyObject's limit; FLEETWATCH_FIRMWARE_MAX_BYTES stays below


class S3BlobWriter:
    def __init__(
        self,
        client: Any,
        bucket: str,
        tenant_id: str,
        *,
        expected: str | None,
        max_bytes: int,
        part_size: int = PART_SIZE,
    ) -> None:
        if max_bytes > MAX_COPY_BYTES:
            raise ValueError(f"an S3 blob is at most {MAX_COPY_BYTES} bytes (one CopyObject)")
        self._client = client
        self._bucket = bucket
        self._tenant_id = tenant_id
        self._expected = expected
        self._digest = Digest(max_bytes)
        self._part_size = part_size
        self.temp_key = f"{INCOMING_PREFIX}/{uuid.uuid4().hex}"
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._temp_written = False
        self._closed = False

    def write(self, chunk: bytes) -> None:
        if self._closed:
            raise RuntimeError("the writer is closed")
        try:
            self._digest.update(chunk)
            self._buffer += chunk
            while len(self._buffer) >= self._part_size:
                self._upload_part(self._part_size)
        except BaseException:
            self.abort()
            raise

    def _upload_part(self, size: int) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self.temp_key)
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self.temp_key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> BlobInfo:
        if self._closed:
            raise RuntimeError("the writer is closed")
        try:
            sha = self._digest.verify(self._expected)  # before anything is completed
            key = object_key(self._tenant_id, sha)
            self._complete_temporary()
            if not self._exists(key):
                self._client.copy_object(
                    Bucket=self._bucket,
                    Key=key,
                    CopySource={"Bucket": self._bucket, "Key": self.temp_key},
                    Metadata={"sha256": sha},
                    MetadataDirective="REPLACE",
                )
        finally:
            self.abort()  # the temporary object or upload, whatever happened
        return BlobInfo(key=key, size=self._digest.size, sha256=sha)

    def _complete_temporary(self) -> None:
        if self._upload_id is None:
            body = bytes(self._buffer)
            self._buffer.clear()
            self._client.put_object(Bucket=self._bucket, Key=self.temp_key, Body=body)
        else:
            if self._buffer:
                self._upload_part(len(self._buffer))
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.temp_key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._upload_id = None
        self._temp_written = True

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.temp_key, UploadId=self._upload_id
            )
            self._upload_id = None
        if self._temp_written:
            self._client.delete_object(Bucket=self._bucket, Key=self.temp_key)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.abort()
