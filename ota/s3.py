"""`S3BlobStore`: firmware images in an S3 bucket (boto3), for the AWS topology.

- `open_writer`: a streamed multipart upload, verified before it becomes the content-addressed
  object (`ota.s3_writer`);
- `head`: HeadObject with checksum mode; the SHA-256 is S3's full-object `ChecksumSHA256`
  when it has one (a presigned upload carrying `x-amz-checksum-sha256`, which S3 verified),
  else the `sha256` metadata our writer recorded after computing it;
- `read_range`: GetObject with `Range`, its body read 1 MiB at a time;
- `presign_put`: a PUT of exactly `size` bytes to `firmware/{tenant}/{sha256}`, with
  `x-amz-checksum-sha256` signed: the client must send that header and S3 refuses a body with
  another checksum. moto (the tests' server) neither checks the checksum nor expires a
  presigned URL, and records no checksum for such a PUT: there `head` has no SHA-256 and
  `compute_sha256` reads the object to check it;
- `presign_get`: a GET valid for `expires_in` seconds (up to 7 days, SigV4's limit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ota.errors import BlobNotFound
from ota.port import (
    CHUNK_SIZE,
    DEFAULT_MAX_BYTES,
    INCOMING_PREFIX,
    BlobInfo,
    PresignedRequest,
    check_lifetime,
    parse_object_key,
)
from ota.ranges import ByteRange, range_header
from ota.s3_writer import PART_SIZE, S3BlobWriter
from write_side.firmware_objects import check_sha256, object_key

MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def s3_client(region: str, endpoint_url: str | None = None) -> Any:
    """A thread-safe client with SigV4 (presigned URLs) and bounded timeouts; path-style
    addressing when an endpoint is given (moto, MinIO, LocalStack)."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3", region_name=region, endpoint_url=endpoint_url, config=config
    )


def _missing(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in MISSING


def sha256_from_checksum(checksum: str | None) -> str | None:
    """S3's base64 `ChecksumSHA256` as hex; None for none or a composite (`...-3`) one."""
    if not checksum or "-" in checksum:
        return None
    try:
        raw = base64.b64decode(checksum, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


class S3BlobStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        part_size: int = PART_SIZE,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.part_size = part_size

    def create_bucket(self) -> None:
        """Create the bucket if it is missing (development and tests; on AWS it is deployed)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            if not _missing(error):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def open_writer(
        self, tenant_id: str, *, expected_sha256: str | None = None, max_bytes: int | None = None
    ) -> S3BlobWriter:
        expected = None if expected_sha256 is None else check_sha256(expected_sha256)
        limit = self.max_bytes if max_bytes is None else max_bytes
        return S3BlobWriter(
            self.client,
            self.bucket,
            tenant_id,
            expected=expected,
            max_bytes=limit,
            part_size=self.part_size,
        )

    def head(self, key: str) -> BlobInfo | None:
        parse_object_key(key)
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except Exception as error:
            if _missing(error):
                return None
            raise
        sha = sha256_from_checksum(answer.get("ChecksumSHA256"))
        if sha is None:
            sha = answer.get("Metadata", {}).get("sha256")
        return BlobInfo(key=key, size=int(answer["ContentLength"]), sha256=sha)

    def read_range(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        parse_object_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range is not None:
            params["Range"] = range_header(byte_range)
        try:
            answer = self.client.get_object(**params)
        except Exception as error:
            if _missing(error):
                raise BlobNotFound(key) from None
            raise
        return _body_chunks(answer["Body"])

    def presign_put(
        self, tenant_id: str, sha256: str, size: int, expires_in: int
    ) -> PresignedRequest:
        key = object_key(tenant_id, sha256)
        checksum = base64.b64encode(bytes.fromhex(parse_object_key(key)[1])).decode()
        url = self.client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentLength": size,
                "ChecksumSHA256": checksum,
            },
            ExpiresIn=check_lifetime(expires_in),
        )
        # Exactly the signed headers: S3 refuses unsigned `x-amz-*` headers on a presigned URL.
        headers = {"content-length": str(size), "x-amz-checksum-sha256": checksum}
        return PresignedRequest("PUT", url, _expiry(expires_in), headers)

    def compute_sha256(self, key: str) -> BlobInfo:
        """Size and SHA-256 computed by reading the object (1 MiB at a time): the check on a
        server that does not verify `x-amz-checksum-sha256` itself (moto). `BlobNotFound`."""
        digest, size = hashlib.sha256(), 0
        for chunk in self.read_range(key):
            digest.update(chunk)
            size += len(chunk)
        return BlobInfo(key=key, size=size, sha256=digest.hexdigest())

    def presign_get(self, key: str, expires_in: int) -> PresignedRequest:
        parse_object_key(key)
        url = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=check_lifetime(expires_in),
        )
        return PresignedRequest("GET", url, _expiry(expires_in))

    def delete(self, key: str) -> None:
        parse_object_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def sweep_incoming(self, older_than_s: float) -> int:
        """What the bucket's lifecycle rule on `.incoming/` does, for a bucket without one."""
        cutoff, removed = datetime.now(UTC) - timedelta(seconds=older_than_s), 0
        prefix = f"{INCOMING_PREFIX}/"
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] < cutoff:
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                    removed += 1
        uploads = self.client.get_paginator("list_multipart_uploads")
        for page in uploads.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    removed += 1
        return removed


def _expiry(expires_in: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)


def _body_chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()
