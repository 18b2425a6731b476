"""The blob store the settings name, for the composition root (`fleetwatch/blobs.py`):

    store = build_blob_store("local", root=Path(".fleetwatch/blobs"), url_secret=secret)
    store = build_blob_store("s3", bucket="acme-firmware", region="eu-west-1")

Nothing connects here: the S3 client is made, not used (the bucket is deployed on AWS; a
development setup calls `S3BlobStore.create_bucket`)."""

from __future__ import annotations

from pathlib import Path

from ota.local_blobs import DEFAULT_ROOT, LocalBlobStore
from ota.port import DEFAULT_MAX_BYTES, BlobStore
from ota.s3 import S3BlobStore, s3_client

BLOB_STORES = ("local", "s3")


def build_blob_store(
    kind: str,
    *,
    root: Path = DEFAULT_ROOT,
    url_secret: bytes = b"",
    bucket: str | None = None,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> BlobStore:
    if kind == "local":
        return LocalBlobStore(root, url_secret=url_secret, max_bytes=max_bytes)
    if kind == "s3":
        if not bucket:
            raise ValueError("the s3 blob store needs a bucket (FLEETWATCH_FIRMWARE_BUCKET)")
        return S3BlobStore(s3_client(region, endpoint_url), bucket, max_bytes=max_bytes)
    raise ValueError(f"unknown blob store {kind!r}; use one of {BLOB_STORES}")
