"""The firmware blob store of the settings (`FLEETWATCH_BLOB_STORE`, `FLEETWATCH_BLOB_DIR`,
`FLEETWATCH_FIRMWARE_BUCKET`, `FLEETWATCH_BLOB_ENDPOINT_URL`, `FLEETWATCH_FIRMWARE_MAX_BYTES`;
docs/operations.md section 14). The local store signs its download URLs with a key derived
from the JWT secret, so no second secret has to be configured."""

from __future__ import annotations

import hashlib
import hmac

from fleetwatch.settings import Settings
from ota.port import BlobStore
from ota.wiring import build_blob_store


def blob_url_secret(settings: Settings) -> bytes:
    """A key for the local store's download URLs, derived from (never equal to) the JWT
    secret: a leaked URL signature says nothing about the tokens' key."""
    return hmac.new(
        settings.jwt_secret.encode(), b"fleetwatch-blob-download-urls", hashlib.sha256
    ).digest()


def blob_store(settings: Settings) -> BlobStore:
    return build_blob_store(
        settings.blob_store,
        root=settings.blob_dir,
        url_secret=blob_url_secret(settings),
        bucket=settings.firmware_bucket,
        region=settings.dynamodb_region,
        endpoint_url=settings.blob_endpoint_url,
        max_bytes=settings.firmware_max_bytes,
    )
