"""Streams a large generated image through a blob store and back, under tracemalloc, and
prints what it measured as JSON. Run in a process of its own by tests/integration/
test_blob_memory.py for the S3 store, so that the peak counts only the client side (the moto
server of the test session lives in the test process and holds the whole object).

    python -m tests.blob_memory_probe s3 <endpoint_url> <bucket> <MiB>
    python -m tests.blob_memory_probe local <directory> - <MiB>
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from ota.local_blobs import LocalBlobStore
from ota.port import BlobStore
from ota.s3 import S3BlobStore, s3_client

MiB = 1024 * 1024
_BLOCK = hashlib.shake_256(b"firmware").digest(MiB)


def generated_image(mib: int) -> Iterator[bytes]:
    """`mib` MiB made lazily, one fresh 1 MiB chunk at a time (each chunk differs)."""
    for i in range(mib):
        yield i.to_bytes(8, "big") + _BLOCK[8:]


def expected_sha256(mib: int) -> str:
    digest = hashlib.sha256()
    for chunk in generated_image(mib):
        digest.update(chunk)
    return digest.hexdigest()


def measure(store: BlobStore, mib: int) -> dict[str, object]:
    tracemalloc.start()
    started = time.perf_counter()
    with store.open_writer("acme", expected_sha256=expected_sha256(mib)) as writer:
        for chunk in generated_image(mib):
            writer.write(chunk)
        blob = writer.commit()
    read_back = hashlib.sha256()
    for chunk in store.read_range(blob.key):
        read_back.update(chunk)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "peak_bytes": peak,
        "seconds": round(seconds, 2),
        "size": blob.size,
        "sha256": blob.sha256,
        "read_back_sha256": read_back.hexdigest(),
    }


def main(kind: str, where: str, bucket: str, mib: int) -> None:
    store: BlobStore
    if kind == "s3":
        s3 = S3BlobStore(s3_client("us-east-1", where), bucket, max_bytes=(mib + 1) * MiB)
        s3.create_bucket()
        store = s3
    else:
        store = LocalBlobStore(Path(where), url_secret=b"probe", max_bytes=(mib + 1) * MiB)
    print(json.dumps(measure(store, mib)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
