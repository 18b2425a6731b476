"""POST /firmware/upload (docs/firmware.md sections 12.1, 12.8): a release and its image as one
multipart/form-data body, streamed. Written by hand (as `api.rest.health`): the body is not an
input shape the operation table takes.

The body is read from `request.stream()` and parsed as it arrives (`api.multipart_form`), never
spooled by Starlette; the image goes to the blob store 1 MiB at a time in a worker thread
(`api.firmware_stream.StreamedRelease`). A `Content-Length` past the limit is refused before a
byte is read. On any error the writer is aborted (nothing kept) and the rest of the body is
read and dropped, up to `DRAIN_BYTES`, so the client gets to read the answer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response
from starlette.requests import ClientDisconnect

from api.auth import Permission, Principal
from api.firmware_stream import FORM_FIELDS, StreamedRelease, UploadForm
from api.firmware_view import FirmwarePublic
from api.multipart_form import MAX_FORM_BYTES, MultipartForm
from api.rest.deps import SystemDep, require
from api.rest.errors import ERROR_RESPONSES
from ota.errors import BlobTooLarge
from ota.port import CHUNK_SIZE
from write_side.errors import InvalidInput

router = APIRouter(tags=["firmware"], responses=ERROR_RESPONSES)

FORM_ALLOWANCE = MAX_FORM_BYTES + 64 * 1024  # what the text parts and framing may add
DRAIN_BYTES = 16 * 1024 * 1024  # read (and dropped) after an error, then the connection closes

DESCRIPTION = """\
A firmware release and its image in one `multipart/form-data` body, streamed to the blob store
(never held whole; at most `FLEETWATCH_FIRMWARE_MAX_BYTES`, else 413 PAYLOAD_TOO_LARGE and
nothing kept). **The text fields must come before the file part** (a field after it, or a file
part first, is 422 naming the field). `deviceTypes` and `hardwareRevisions` may be repeated or
comma-separated. The SHA-256 is computed here; a `sha256` given that differs is 422 naming
`sha256`. The signature (ed25519 over the release, docs/firmware.md 12.1) is verified against
the tenant's keys before the image is kept: unsigned where required, an unknown or revoked key
or a bad signature is 422 naming `signature` or `keyId`. 201 with the release, AVAILABLE."""


def _form_schema() -> dict[str, Any]:
    schema = UploadForm.model_json_schema(by_alias=True)
    properties = dict(schema["properties"])
    properties["file"] = {"type": "string", "format": "binary", "description": "The image."}
    return {
        "type": "object",
        "properties": properties,
        "required": [*schema.get("required", []), "file"],
    }


OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": _form_schema(),
                "encoding": {"deviceTypes": {"style": "form", "explode": True}},
            }
        },
    }
}


@router.post(
    "/firmware/upload",
    summary="Upload a firmware release (multipart, streamed; fields before the file)",
    description=DESCRIPTION,
    status_code=201,
    response_model=FirmwarePublic,
    openapi_extra=OPENAPI,
    responses={
        413: {"description": "The image is larger than the limit (PAYLOAD_TOO_LARGE)."},
        409: {"description": "The version is published for a device type (taken)."},
    },
)
async def upload_firmware(
    request: Request,
    response: Response,
    system: SystemDep,
    caller: Annotated[Principal, Depends(require(Permission.UPLOAD_FIRMWARE))],
) -> FirmwarePublic:
    release = StreamedRelease(system, caller)
    body = request.stream()
    try:
        _refuse_declared_size(request, system.blobs.max_bytes)  # before a byte is parsed
        content_type = request.headers.get("content-type")
        form = MultipartForm(content_type, release.start_file, FORM_FIELDS)
        async for data in _chunks(body):
            await to_thread.run_sync(form.feed, data)
        await to_thread.run_sync(form.finish)
        firmware = await to_thread.run_sync(release.publish)
    except ClientDisconnect:
        await to_thread.run_sync(release.abort)
        raise InvalidInput("the client went away before the body ended", field="body") from None
    except Exception:
        await to_thread.run_sync(release.abort)
        await _drain(body)
        raise
    except BaseException:  # cancelled: no more awaiting
        release.abort()
        raise
    response.headers["Location"] = f"/firmware/{firmware.id}"
    response.headers["ETag"] = f'"{firmware.version}"'
    return firmware


def _refuse_declared_size(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + FORM_ALLOWANCE:
        raise BlobTooLarge(max_bytes)


async def _chunks(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body regrouped in pieces of about `CHUNK_SIZE` (one thread hop each)."""
    pending = bytearray()
    async for data in stream:
        pending.extend(data)
        if len(pending) >= CHUNK_SIZE:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


async def _drain(stream: AsyncIterator[bytes]) -> None:
    dropped = 0
    with contextlib.suppress(ClientDisconnect, RuntimeError):
        async for data in stream:
            dropped += len(data)
            if dropped > DRAIN_BYTES:
                return
