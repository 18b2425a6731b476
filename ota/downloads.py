"""A firmware download answered from any blob store, framework-free: the status, headers and
body of `GET /firmware/{firmwareId}/image` (and of the local store's presigned path), which the
API's route only copies into its response.

    download = prepare_download(store, key, request.headers.get("range"))
    -> 200 with the whole image, or 206 with `Content-Range`; always `Accept-Ranges: bytes`,
       `Content-Length` and `ETag` (the SHA-256, strong: an image never changes under its key)

`RangeNotSatisfiable` is answered 416 with `refusal_headers(error)`
(`Content-Range: bytes */size`); `BlobNotFound` 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ota.errors import BlobNotFound, RangeNotSatisfiable
from ota.port import BlobStore
from ota.ranges import content_range, parse_range, unsatisfied_content_range


@dataclass(frozen=True)
class Download:
    status: int
    headers: dict[str, str]
    body: Iterator[bytes]


def prepare_download(store: BlobStore, key: str, range_header: str | None) -> Download:
    info = store.head(key)
    if info is None:
        raise BlobNotFound(key)
    headers = {
        "accept-ranges": "bytes",
        "content-type": "application/octet-stream",
    }
    if info.sha256 is not None:
        headers["etag"] = f'"{info.sha256}"'
    byte_range = parse_range(range_header, info.size)
    if byte_range is None:
        headers["content-length"] = str(info.size)
        return Download(200, headers, store.read_range(key))
    headers["content-length"] = str(byte_range.length)
    headers["content-range"] = content_range(byte_range, info.size)
    return Download(206, headers, store.read_range(key, byte_range))


def refusal_headers(error: RangeNotSatisfiable) -> dict[str, str]:
    """The headers of the 416 answer to `error`."""
    return {"accept-ranges": "bytes", "content-range": unsatisfied_content_range(error.size)}
