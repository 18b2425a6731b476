"""The API on a fresh SQLite file and local blob store, served by uvicorn in a process of its
own, so that tests/e2e/test_firmware_upload_memory.py measures this process's RSS alone.

    python -m tests.firmware_upload_server <directory> <port> <jwt secret> [<S3 URL> <bucket>]

With an S3 endpoint (moto's server) and a bucket, the images go there instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from api.app import create_app
from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings


def main(directory: Path, port: int, secret: str, s3: list[str]) -> None:
    settings = Settings(
        store="sqlite",
        sqlite_path=directory / "fleet.sqlite3",
        blob_dir=directory / "blobs",
        jwt_secret=secret,
        jwks_url=None,
        jwt_issuer=None,
        jwt_audience=None,
        run_projections=True,
    ).model_copy(update={"redis_url": None})
    if s3:
        endpoint, bucket = s3
        blobs = {"blob_store": "s3", "blob_endpoint_url": endpoint, "firmware_bucket": bucket}
        settings = settings.model_copy(update=blobs)
    system = build_system(settings)
    system.start()
    try:
        uvicorn.run(create_app(system), host="127.0.0.1", port=port, log_level="warning")
    finally:
        system.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:])
