"""The telemetry Parquet files mirrored to S3 (docs/analytics.md 20.2), for Athena or Trino.

With `FLEETWATCH_ANALYTICS_BUCKET`, every file the writer puts in place locally is uploaded
with the same relative key under `s3://<bucket>/<prefix>/`:

    <prefix>/tenant_id=<tenant>/day=YYYY-MM-DD/part-<first>-<last>_<i>.parquet

before the writer commits its checkpoint; the restart sweep deletes the objects of a flush
whose checkpoint never committed, as it deletes the local files. So the bucket holds each
reading exactly once, as the directory does, and an external table over the prefix (the DDL
in 20.2) reads it unchanged. The local directory stays what this process queries: DuckDB's
`httpfs` extension cannot be installed here, so queries never read S3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from read_side.analytics.files import FILE_NAME


class S3Mirror:
    """Uploads the files put in place under a local root, and sweeps a crashed flush's."""

    def __init__(self, client: Any, bucket: str, prefix: str = "telemetry") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def key(self, root: Path, path: Path) -> str:
        return f"{self.prefix}/{path.relative_to(root).as_posix()}"

    def put(self, root: Path, placed: list[Path]) -> list[str]:
        """Upload the files (replacing objects of the same names); their keys."""
        keys = []
        for path in placed:
            key = self.key(root, path)
            self.client.upload_file(str(path), self.bucket, key)
            keys.append(key)
        return keys

    def sweep_after(self, checkpoint: int) -> list[str]:
        """Delete the objects whose first position is above `checkpoint`; their keys."""
        gone = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/tenant_id="
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = str(item["Key"])
                match = FILE_NAME.match(key.rsplit("/", 1)[-1])
                if match and int(match[1]) > checkpoint:
                    gone.append(key)
        for start in range(0, len(gone), 1000):  # DeleteObjects takes 1,000 keys at most
            objects = [{"Key": key} for key in gone[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})
        return gone
