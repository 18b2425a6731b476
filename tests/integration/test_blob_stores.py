"""The blob store contract, run on both adapters: `LocalBlobStore` in a temporary directory and
`S3BlobStore` against the session's moto server (server mode, HTTP on 127.0.0.1; never a mock
object). What a test leaves behind is read from the store's own medium: the files under the
root, or every object key and unfinished multipart upload in the bucket."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ota.errors import BlobNotFound, BlobTooLarge, PresignedUrlInvalid, PresignNotSupported
from ota.local_blobs import LocalBlobStore
from ota.port import BlobStore
from ota.ranges import ByteRange, content_range, parse_range, range_header
from ota.s3 import S3BlobStore, s3_client
from write_side.errors import InvalidInput
from write_side.firmware_objects import object_key

MiB = 1024 * 1024
PART = 5 * MiB


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    kind: str
    store: BlobStore
    leftovers: Callable[[], set[str]]  # every key or file the store's medium holds
    clock: Clock


def _local(root: Path) -> Harness:
    clock = Clock()
    store = LocalBlobStore(root, url_secret=b"test-secret", max_bytes=16 * MiB, clock=clock)

    def files() -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}

    return Harness("local", store, files, clock)


def _s3(moto_url: str) -> Harness:
    store = S3BlobStore(s3_client("us-east-1", moto_url), f"fw-{uuid.uuid4().hex[:12]}")
    store.max_bytes = 16 * MiB
    store.create_bucket()

    def keys() -> set[str]:
        listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        return {o["Key"] for o in listed} | {f"upload:{u['Key']}" for u in uploads}

    return Harness("s3", store, keys, Clock())


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "local":
        yield _local(tmp_path / "blobs")
    else:
        yield _s3(request.getfixturevalue("moto_url"))


def body(size: int, seed: int = 1) -> bytes:
    return hashlib.shake_256(f"firmware-{seed}".encode()).digest(size)


def chunks(data: bytes, sizes: tuple[int, ...] = (1, 1000, MiB + 7, 3 * MiB)) -> Iterator[bytes]:
    """`data` in uneven chunks, cycling through `sizes`."""
    at, i = 0, 0
    while at < len(data):
        size = sizes[i % len(sizes)]
        yield data[at : at + size]
        at, i = at + size, i + 1


def store_bytes(store: BlobStore, data: bytes, expected: str | None = None) -> str:
    with store.open_writer("acme", expected_sha256=expected) as writer:
        for chunk in chunks(data):
            writer.write(chunk)
        return writer.commit().key


def read(store: BlobStore, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join(store.read_range(key, byte_range))


@pytest.mark.parametrize("size", [0, 1, 10 * MiB + 3])  # 10 MiB: several S3 parts
def test_a_streamed_write_is_verified_and_stored_under_its_sha256(
    blobs: Harness, size: int
) -> None:
    data = body(size)
    sha = hashlib.sha256(data).hexdigest()
    with blobs.store.open_writer("acme", expected_sha256=sha.upper()) as writer:
        for chunk in chunks(data):
            writer.write(chunk)
        blob = writer.commit()
    assert (blob.key, blob.size, blob.sha256) == (object_key("acme", sha), size, sha)
    assert blobs.store.head(blob.key) == blob
    assert read(blobs.store, blob.key) == data
    assert all(len(c) <= MiB for c in blobs.store.read_range(blob.key))
    assert blobs.leftovers() == {blob.key}  # nothing left under .incoming/


def test_the_same_content_is_stored_once(blobs: Harness) -> None:
    data = body(3 * MiB)
    assert store_bytes(blobs.store, data) == store_bytes(blobs.store, data)
    assert blobs.leftovers() == {object_key("acme", hashlib.sha256(data).hexdigest())}


@pytest.mark.parametrize("size", [100, 7 * MiB])
def test_a_wrong_expected_sha256_is_refused_and_leaves_nothing(blobs: Harness, size: int) -> None:
    data = body(size)
    wrong = hashlib.sha256(data + b"x").hexdigest()
    with pytest.raises(InvalidInput) as caught:
        store_bytes(blobs.store, data, expected=wrong)
    assert caught.value.field == "sha256"
    assert blobs.leftovers() == set()


def test_a_malformed_expected_sha256_is_refused_before_anything_is_written(
    blobs: Harness,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        blobs.store.open_writer("acme", expected_sha256="abc")
    assert caught.value.field == "sha256"
    assert blobs.leftovers() == set()


@pytest.mark.parametrize("limit", [1000, 6 * MiB])  # in the first part, and after one part
def test_a_body_over_the_limit_is_refused_and_leaves_nothing(blobs: Harness, limit: int) -> None:
    writer = blobs.store.open_writer("acme", max_bytes=limit)
    writer.write(body(limit))  # exactly the limit is fine
    with pytest.raises(BlobTooLarge) as caught:
        writer.write(b"!")
    assert (caught.value.field, caught.value.max_bytes, caught.value.code) == (
        "file",
        limit,
        "PAYLOAD_TOO_LARGE",
    )
    with pytest.raises(RuntimeError):
        writer.commit()
    assert blobs.leftovers() == set()


def test_the_store_limit_is_the_default(blobs: Harness) -> None:
    with pytest.raises(BlobTooLarge):
        store_bytes(blobs.store, body(blobs.store.max_bytes + 1))
    assert blobs.leftovers() == set()


def test_a_writer_left_without_commit_leaves_nothing(blobs: Harness) -> None:
    with blobs.store.open_writer("acme") as writer:
        writer.write(body(6 * MiB))

    def failing_upload() -> None:
        with blobs.store.open_writer("acme") as writer:
            writer.write(body(100))
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        failing_upload()
    assert blobs.leftovers() == set()


def test_range_reads_first_middle_suffix_and_open_ended(blobs: Harness) -> None:
    data = body(3 * MiB + 11)
    key = store_bytes(blobs.store, data)
    info = blobs.store.head(key)
    assert info is not None
    size = info.size
    cases = {
        "bytes=0-99": data[:100],
        "bytes=1048570-2097160": data[1048570:2097161],
        "bytes=-500": data[-500:],
        f"bytes={size - 3}-": data[-3:],
        f"bytes=5-{size + 1000}": data[5:],
        f"bytes=-{size * 2}": data,
    }
    for header, expected in cases.items():
        byte_range = parse_range(header, size)
        assert byte_range is not None
        assert read(blobs.store, key, byte_range) == expected, header
        assert content_range(byte_range, size).endswith(f"/{size}")


def test_a_resumed_download_assembles_the_whole_image(blobs: Harness) -> None:
    data = body(4 * MiB + 123)
    key = store_bytes(blobs.store, data)
    size = len(data)
    received = bytearray()
    for piece in (1, 777_777, MiB, 5):  # each "connection" drops after `piece` bytes
        byte_range = parse_range(f"bytes={len(received)}-", size)
        assert byte_range is not None
        for chunk in blobs.store.read_range(key, byte_range):
            received += chunk[: piece - (len(received) - byte_range.start)]
            if len(received) - byte_range.start >= piece:
                break
    last = parse_range(range_header(ByteRange(len(received), size - 1)), size)
    received += read(blobs.store, key, last)
    assert bytes(received) == data


def test_a_missing_blob(blobs: Harness) -> None:
    key = object_key("acme", "0" * 64)
    assert blobs.store.head(key) is None
    with pytest.raises(BlobNotFound):
        read(blobs.store, key)
    blobs.store.delete(key)  # nothing happens


def test_delete_removes_the_blob(blobs: Harness) -> None:
    key = store_bytes(blobs.store, body(2000))
    blobs.store.delete(key)
    assert blobs.store.head(key) is None
    assert blobs.leftovers() == set()


@pytest.mark.parametrize("key", ["firmware/../../etc/passwd", "firmware/acme/xyz", ".incoming/x"])
def test_only_firmware_keys_are_read(blobs: Harness, key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        blobs.store.head(key)
    assert caught.value.field == "key"


def test_tenants_are_kept_apart(blobs: Harness) -> None:
    data = body(10)
    with blobs.store.open_writer("../other") as writer:
        writer.write(data)
        theirs = writer.commit()
    assert theirs.key != store_bytes(blobs.store, data)
    assert theirs.key.startswith("firmware/%2E%2E%2Fother/")
    assert read(blobs.store, theirs.key) == data


# ---------------------------------------------------------------- presigned requests


def test_a_presigned_get_downloads_the_image(blobs: Harness, moto_url: str) -> None:
    data = body(2 * MiB + 5)
    key = store_bytes(blobs.store, data)
    presigned = blobs.store.presign_get(key, expires_in=600)
    assert presigned.method == "GET"
    if isinstance(blobs.store, S3BlobStore):
        assert presigned.url.startswith(moto_url)
        assert "X-Amz-Expires=600" in presigned.url
        assert httpx.get(presigned.url).content == data
        partial = httpx.get(presigned.url, headers={"Range": "bytes=-10"})
        assert (partial.status_code, partial.content) == (206, data[-10:])
        assert (
            partial.headers["content-range"]
            == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
        )
    else:
        assert isinstance(blobs.store, LocalBlobStore)
        path, _, query = presigned.url.partition("?")
        params = dict(httpx.QueryParams(query))
        assert path == f"/firmware/blobs/acme/{key.rsplit('/', 1)[1]}"
        blobs.store.verify_presigned_get(key, int(params["expires"]), params["signature"])
        with pytest.raises(PresignedUrlInvalid):  # another key, or a forged expiry
            blobs.store.verify_presigned_get(
                object_key("acme", "1" * 64), int(params["expires"]), params["signature"]
            )
        with pytest.raises(PresignedUrlInvalid):
            blobs.store.verify_presigned_get(key, int(params["expires"]) + 1, params["signature"])
        blobs.clock.now += 600  # expired
        with pytest.raises(PresignedUrlInvalid, match="expired"):
            blobs.store.verify_presigned_get(key, int(params["expires"]), params["signature"])


def test_moto_does_not_expire_presigned_urls(moto_url: str) -> None:
    """Pinned, as docs/firmware.md section 12.1 says: moto serves an expired presigned GET (real
    S3 answers 403). The expiry is in the signed URL (`X-Amz-Expires`); only S3 enforces it."""
    blobs = _s3(moto_url)
    key = store_bytes(blobs.store, b"image")
    url = blobs.store.presign_get(key, expires_in=1).url
    assert "X-Amz-Expires=1&" in url
    import time

    time.sleep(1.5)
    assert httpx.get(url).status_code == 200


def test_a_presigned_put_then_head(blobs: Harness) -> None:
    data = body(3 * MiB)
    sha = hashlib.sha256(data).hexdigest()
    if not isinstance(blobs.store, S3BlobStore):
        with pytest.raises(PresignNotSupported):
            blobs.store.presign_put("acme", sha, len(data), expires_in=3600)
        return
    presigned = blobs.store.presign_put("acme", sha, len(data), expires_in=3600)
    assert presigned.method == "PUT"
    assert "x-amz-checksum-sha256" in presigned.url.split("X-Amz-SignedHeaders=")[1].split("&")[0]
    answer = httpx.put(presigned.url, content=data, headers=presigned.headers)
    assert answer.status_code == 200, answer.text
    info = blobs.store.head(object_key("acme", sha))
    assert info is not None
    # moto records no checksum for it (real S3 verifies and returns it): size from head, the
    # SHA-256 by reading the object.
    assert (info.size, info.sha256) == (len(data), None)
    assert blobs.store.compute_sha256(info.key).sha256 == sha
    assert blobs.leftovers() == {info.key}


def test_a_presigned_url_lives_one_second_to_seven_days(blobs: Harness) -> None:
    for expires_in in (0, -5, 7 * 24 * 3600 + 1):
        with pytest.raises(ValueError, match="presigned"):
            blobs.store.presign_get(object_key("acme", "0" * 64), expires_in)


def test_local_sweep_removes_only_old_incoming_files(tmp_path: Path) -> None:
    blobs = _local(tmp_path)
    assert isinstance(blobs.store, LocalBlobStore)
    old = blobs.store.open_writer("acme")
    old.write(b"x")
    os.utime(old.path, (0, 0))
    fresh = blobs.store.open_writer("acme")
    assert blobs.store.sweep_incoming(older_than_s=3600) == 1
    assert blobs.leftovers() == {fresh.path.relative_to(tmp_path).as_posix()}
    old.abort()
    fresh.abort()
