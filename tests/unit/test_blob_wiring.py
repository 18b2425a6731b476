"""The blob store settings and factory (`fleetwatch/blobs.py`, `ota/wiring.py`), and how the
blob stores' errors reach a client (`api/errors.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.errors import describe
from fleetwatch.blobs import blob_store, blob_url_secret
from fleetwatch.settings import Settings
from ota.errors import (
    BlobNotFound,
    BlobTooLarge,
    PresignedUrlInvalid,
    PresignNotSupported,
    RangeNotSatisfiable,
)
from ota.local_blobs import LocalBlobStore
from ota.s3 import S3BlobStore
from ota.wiring import build_blob_store


def test_the_embedded_default_is_a_local_store_of_512_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BLOB_STORE", "BLOB_DIR", "FIRMWARE_BUCKET", "FIRMWARE_MAX_BYTES"):
        monkeypatch.delenv(f"FLEETWATCH_{name}", raising=False)
    store = blob_store(Settings())
    assert isinstance(store, LocalBlobStore)
    assert (store.root, store.max_bytes) == (Path(".fleetwatch/blobs"), 512 * 1024 * 1024)


def test_s3_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETWATCH_BLOB_STORE", "s3")
    monkeypatch.setenv("FLEETWATCH_FIRMWARE_BUCKET", "acme-firmware")
    monkeypatch.setenv("FLEETWATCH_FIRMWARE_MAX_BYTES", "1048576")
    monkeypatch.setenv("FLEETWATCH_BLOB_ENDPOINT_URL", "http://127.0.0.1:9")
    store = blob_store(Settings())
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.max_bytes) == ("acme-firmware", 1024 * 1024)
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="FLEETWATCH_FIRMWARE_BUCKET"):
        blob_store(Settings(blob_store="s3", firmware_bucket=None))


@pytest.mark.parametrize("value", [0, 5 * 1024**3 + 1])
def test_the_limit_is_positive_and_at_most_5_gib(value: int) -> None:
    with pytest.raises(ValidationError):
        Settings(firmware_max_bytes=value)


def test_unknown_stores_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown blob store"):
        build_blob_store("ftp")
    with pytest.raises(ValidationError):
        Settings(blob_store="ftp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret"):
        build_blob_store("local", url_secret=b"")


def test_the_url_key_is_derived_from_the_jwt_secret_not_equal_to_it() -> None:
    one, two = Settings(jwt_secret="a" * 32), Settings(jwt_secret="b" * 32)
    assert blob_url_secret(one) != blob_url_secret(two)
    assert blob_url_secret(one) == blob_url_secret(Settings(jwt_secret="a" * 32))
    assert b"a" * 32 not in blob_url_secret(one)


@pytest.mark.parametrize(
    ("error", "code", "status", "field"),
    [
        (BlobTooLarge(1024), "PAYLOAD_TOO_LARGE", 413, "file"),
        (RangeNotSatisfiable(10, "bytes=20-"), "RANGE_NOT_SATISFIABLE", 416, None),
        (BlobNotFound("firmware/acme/" + "0" * 64), "NOT_FOUND", 404, None),
        (PresignedUrlInvalid("expired"), "PRESIGNED_URL_INVALID", 403, None),
        (PresignNotSupported("local"), "PRESIGN_NOT_SUPPORTED", 501, None),
    ],
)
def test_blob_errors_reach_the_client_with_their_status(
    error: Exception, code: str, status: int, field: str | None
) -> None:
    described = describe(error)
    assert described is not None
    assert (described.code, described.http_status, described.field) == (code, status, field)
