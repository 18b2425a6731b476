"""Downloads as the API answers them (`ota.downloads.prepare_download`), on both stores, and
the local store's presigned URL served over HTTP: a small Starlette app standing for the API's
route (verify the signature and expiry, then `prepare_download`), fetched through
Starlette's `TestClient` (an httpx client)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ota.downloads import prepare_download, refusal_headers
from ota.errors import BlobNotFound, PresignedUrlInvalid, RangeNotSatisfiable
from ota.local_blobs import LocalBlobStore
from tests.integration.test_blob_stores import Harness, _local, blobs, body, store_bytes
from write_side.firmware_objects import object_key

__all__ = ["blobs"]  # the contract's fixture: both stores
MiB = 1024 * 1024


def test_a_whole_download(blobs: Harness) -> None:
    data = body(MiB + 1)
    key = store_bytes(blobs.store, data)
    download = prepare_download(blobs.store, key, None)
    assert download.status == 200
    assert download.headers["content-length"] == str(len(data))
    assert download.headers["accept-ranges"] == "bytes"
    assert download.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert b"".join(download.body) == data


def test_a_partial_download(blobs: Harness) -> None:
    data = body(1000)
    key = store_bytes(blobs.store, data)
    download = prepare_download(blobs.store, key, "bytes=-100")
    assert (download.status, download.headers["content-range"]) == (206, "bytes 900-999/1000")
    assert download.headers["content-length"] == "100"
    assert b"".join(download.body) == data[900:]
    whole = prepare_download(blobs.store, key, "bytes=0-9,20-29")  # several: the whole
    assert (whole.status, b"".join(whole.body)) == (200, data)


def test_an_unsatisfiable_range_and_a_missing_image(blobs: Harness) -> None:
    key = store_bytes(blobs.store, body(1000))
    with pytest.raises(RangeNotSatisfiable) as caught:
        prepare_download(blobs.store, key, "bytes=1000-")
    assert refusal_headers(caught.value)["content-range"] == "bytes */1000"
    with pytest.raises(BlobNotFound):
        prepare_download(blobs.store, object_key("acme", "0" * 64), None)


def _route_for(store: LocalBlobStore) -> Starlette:
    """What the API's route does with a local presigned URL (docs/firmware.md section 12.1)."""

    def download(request: Request) -> Response:
        tenant, _, sha = request.path_params["rest"].rpartition("/")
        key = object_key(tenant, sha)
        try:
            expires = int(request.query_params.get("expires", "0"))
            store.verify_presigned_get(key, expires, request.query_params.get("signature", ""))
            found = prepare_download(store, key, request.headers.get("range"))
        except PresignedUrlInvalid as error:
            return Response(error.message, status_code=403)
        except RangeNotSatisfiable as error:
            return Response(status_code=416, headers=refusal_headers(error))
        return StreamingResponse(found.body, status_code=found.status, headers=found.headers)

    return Starlette(routes=[Route("/firmware/blobs/{rest:path}", download)])


def test_a_local_presigned_url_downloads_over_http_and_expires(tmp_path: Path) -> None:
    harness = _local(tmp_path)
    assert isinstance(harness.store, LocalBlobStore)
    data = body(3 * MiB + 17)
    with harness.store.open_writer("acme/north.eu") as writer:  # "/" and "." in a tenant
        writer.write(data)
        key = writer.commit().key
    url = harness.store.presign_get(key, expires_in=60).url
    with TestClient(_route_for(harness.store), base_url="http://blobs.local") as client:
        assert client.get(url).content == data
        resumed = client.get(url, headers={"Range": f"bytes={MiB}-"})
        assert resumed.status_code == 206
        assert resumed.headers["content-range"] == f"bytes {MiB}-{len(data) - 1}/{len(data)}"
        assert data[:MiB] + resumed.content == data
        refused = client.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert (refused.status_code, refused.headers["content-range"]) == (
            416,
            f"bytes */{len(data)}",
        )
        assert client.get(url.replace("expires=", "expires=1")).status_code == 403
        harness.clock.now += 61
        expired = client.get(url)
        assert (expired.status_code, expired.text) == (403, "the download URL has expired")
