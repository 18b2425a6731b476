"""A large image goes through each blob store in bounded memory: written in 1 MiB chunks
(generated lazily, never whole), verified, and read back, with the peak of traced Python
allocations under `PEAK_LIMIT`. Sizes: 256 MiB through the local store (about 1-2 s), 160 MiB
through S3 (moto; about 3-5 s: 32 multipart parts, then a server-side copy). The S3 probe runs
in its own process (`tests/blob_memory_probe.py`): the session's moto server, in this process,
holds the whole object in memory, which is moto's, not the client's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from ota.local_blobs import LocalBlobStore
from tests.blob_memory_probe import MiB, expected_sha256, measure

ROOT = Path(__file__).resolve().parents[2]
PEAK_LIMIT = 32 * MiB
LOCAL_MIB = 256
S3_MIB = 160


def test_the_local_store_streams_a_large_image_in_bounded_memory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, url_secret=b"s", max_bytes=LOCAL_MIB * MiB)
    measured = measure(store, LOCAL_MIB)
    assert measured["size"] == LOCAL_MIB * MiB
    assert measured["sha256"] == measured["read_back_sha256"] == expected_sha256(LOCAL_MIB)
    assert isinstance(measured["peak_bytes"], int)
    assert measured["peak_bytes"] < PEAK_LIMIT, measured


def test_the_s3_store_streams_a_large_image_in_bounded_memory(moto_url: str) -> None:
    bucket = f"fw-memory-{uuid.uuid4().hex[:8]}"
    probe = subprocess.run(
        [sys.executable, "-m", "tests.blob_memory_probe", "s3", moto_url, bucket, str(S3_MIB)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    measured = json.loads(probe.stdout.strip().splitlines()[-1])
    assert measured["size"] == S3_MIB * MiB
    assert measured["sha256"] == measured["read_back_sha256"] == expected_sha256(S3_MIB)
    assert measured["peak_bytes"] < PEAK_LIMIT, measured
