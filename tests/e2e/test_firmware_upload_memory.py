"""A 500 MiB image, generated as it is sent (never a file, never whole in memory), streamed
through POST /firmware/upload to a server in a process of its own: the server's peak RSS grows
by a bounded amount (the body is parsed and written 1 MiB at a time), whatever the image's size.

The peak is the kernel's high-water mark (VmHWM of /proc/<pid>/status), reset after a warm-up
upload by writing 5 to /proc/<pid>/clear_refs. Prints what it measured (run with -s)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.auth import issue_token
from fleetwatch.settings import Settings
from ota.s3 import S3BlobStore, s3_client
from tests.e2e.conftest import TEST_SECRET, free_port
from tests.e2e.firmware_upload_client import CONTENT_TYPE, body
from tests.integration.conftest import moto_url  # noqa: F401 (the session's moto server)

MiB = 1024 * 1024
IMAGE_MIB = 500
S3_IMAGE_MIB = 200
MAX_GROWTH = 64 * MiB
ROOT = Path(__file__).resolve().parents[2]


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class Image:
    """`mib` MiB made one fresh 1 MiB chunk at a time, hashed as they are sent."""

    def __init__(self, mib: int) -> None:
        self.mib = mib
        self.digest = hashlib.sha256()
        self._block = hashlib.shake_256(b"firmware").digest(MiB)

    def __iter__(self) -> Iterator[bytes]:
        for i in range(self.mib):
            chunk = i.to_bytes(8, "big") + self._block[8:]
            self.digest.update(chunk)
            yield chunk


@pytest.fixture(params=["local", "s3"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """(URL, pid, MiB to send): the local store gets 500 MiB, moto's S3 (which holds every
    object in this test process's memory) 200 MiB."""
    port = free_port()
    s3: list[str] = []
    if request.param == "s3":
        endpoint, bucket = request.getfixturevalue("moto_url"), f"fw-{uuid.uuid4().hex[:12]}"
        S3BlobStore(s3_client("us-east-1", endpoint), bucket).create_bucket()
        s3 = [endpoint, bucket]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.firmware_upload_server", str(tmp_path), str(port),
         TEST_SECRET, *s3],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the server exited"
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield url, process.pid, IMAGE_MIB if request.param == "local" else S3_IMAGE_MIB
    finally:
        process.terminate()
        process.wait(15)
        shutil.rmtree(tmp_path / "blobs", ignore_errors=True)  # 500 MiB not left in /tmp


@pytest.mark.timeout(120)
def test_a_500_mib_upload_keeps_the_servers_memory_bounded(
    server: tuple[str, int, int],
) -> None:
    url, pid, mib = server
    settings = Settings(jwt_secret=TEST_SECRET, jwks_url=None, jwt_issuer=None, jwt_audience=None)
    token = "Bearer " + issue_token(settings, "uploader", "acme", ["admin"], 600)
    headers = {"Authorization": token, "Content-Type": CONTENT_TYPE}
    with httpx.Client(base_url=url, timeout=120) as client:

        def send(version: str, image: Image) -> httpx.Response:
            fields = [("firmwareVersion", version), ("deviceTypes", "pump")]
            return client.post("/firmware/upload", content=body(fields, image), headers=headers)

        assert send("0.0.1", Image(4)).status_code == 201  # warm-up: imports, threads, pools
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the high-water mark := RSS now
        before = status_kib(pid, "VmRSS") * 1024
        image = Image(mib)
        started = time.perf_counter()
        response = send("1.0.0", image)
        seconds = time.perf_counter() - started
        peak = status_kib(pid, "VmHWM") * 1024

    assert response.status_code == 201, response.text
    release = response.json()
    assert release["sizeBytes"] == mib * MiB
    assert release["sha256"] == image.digest.hexdigest()
    growth = peak - before
    print(
        f"\n{mib} MiB upload: {seconds:.1f} s ({mib / seconds:.0f} MiB/s); server RSS "
        f"before {before / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB, growth {growth / MiB:.1f} MiB"
    )
    assert growth < MAX_GROWTH
