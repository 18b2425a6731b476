"""The large-upload path (docs/firmware.md sections 12.1, 12.8): a release is requested
(`RequestFirmwareUpload`) and answered with a presigned PUT of exactly its bytes straight to the
blob store; once the client has PUT them, the confirmation heads the object and records
`ConfirmFirmwareUpload`: published when size and SHA-256 are the requested ones, else
`UploadRejected` with the reason. Both operations are one table (`OPERATIONS`) for both wires:

    POST /firmware/uploads            requestFirmwareUpload(input)   202 FirmwareUpload
    POST /firmware/{firmwareId}/confirm   confirmFirmwareUpload(input: {id})   Firmware

The presigned PUT is asked for before anything is recorded, so a store that cannot presign
(the local one: PRESIGN_NOT_SUPPORTED, 501) leaves no pending release behind. A server that
does not vouch for the object's SHA-256 (moto) has it computed by reading the object.

The streamed upload (`POST /firmware/upload`, multipart) is `api.rest.firmware_upload`."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import partial
from typing import Annotated
from uuid import UUID

import strawberry
from anyio import to_thread
from fastapi import Path
from pydantic import Field, StringConstraints

from api.auth import Permission, Principal
from api.command_path import build_command
from api.device_view import View
from api.firmware_stream import firmware_public
from api.firmware_view import FirmwarePublic
from api.graphql.scalars import Long
from api.inputs import Input
from api.operations import MUTATION, Arg, Call, GraphQL, Operation, Rest, parse_id
from api.ports import FleetSystem
from api.rest.errors import not_found
from write_side.commands import DeviceType
from write_side.errors import DomainError
from write_side.firmware_commands import (
    MAX_RELEASE_NOTES,
    ConfirmFirmwareUpload,
    FirmwareVersionText,
    HardwareRevision,
    KeyId,
    RequestFirmwareUpload,
    Sha256,
)
from write_side.firmware_objects import object_key
from write_side.firmware_service import UPLOAD_EXPIRY
from write_side.firmware_states import FirmwareStatus

UPLOAD = Permission.UPLOAD_FIRMWARE
PRESIGN_SECONDS = int(UPLOAD_EXPIRY.total_seconds())  # the URL lives as long as the request


class ImageNotUploaded(DomainError):
    """Confirmed before the image is in the store: nothing recorded, PUT it first (HTTP 409)."""

    code = "IMAGE_NOT_UPLOADED"


class FirmwareUploadBody(Input):
    """A release whose image is PUT to the store afterwards."""

    firmware_version: FirmwareVersionText = Field(description="SemVer 2.0, e.g. 1.4.0.")
    device_types: Annotated[list[DeviceType], Field(min_length=1, max_length=16)]
    hardware_revisions: list[HardwareRevision] | None = None
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    size_bytes: Long = Field(gt=0, description="The image's exact size; the PUT must match.")
    sha256: Sha256 = Field(description="The image's SHA-256, hex; the PUT must match.")
    signature: str | None = Field(default=None, description="ed25519 signature, base64.")
    key_id: KeyId | None = None
    release_notes: Annotated[str, StringConstraints(max_length=MAX_RELEASE_NOTES)] | None = None


class FirmwareUploadPublic(View):
    firmware: FirmwarePublic = Field(description="The release, PENDING_UPLOAD.")
    upload_url: str = Field(description="PUT the image's bytes here.")
    upload_headers: dict[str, str] = Field(description="Send exactly these headers with it.")
    expires_at: datetime = Field(description="The URL works until then; later: REJECTED.")


FIRMWARE_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="firmwareId", description="The release's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("a firmware id"),
)


async def request_upload(call: Call) -> FirmwareUploadPublic:
    return await to_thread.run_sync(partial(_request, call.system, call.caller, call.shape))


def _request(
    system: FleetSystem, caller: Principal, body: FirmwareUploadBody
) -> FirmwareUploadPublic:
    fields = body.model_dump(exclude={"firmware_version"}) | {"version": body.firmware_version}
    command = build_command(RequestFirmwareUpload, fields)
    presigned = system.blobs.presign_put(
        caller.tenant_id, command.sha256, command.size_bytes, PRESIGN_SECONDS
    )
    saved = system.firmware_service.request_upload(command, caller.metadata())
    return FirmwareUploadPublic(
        firmware=firmware_public(saved.aggregate),
        upload_url=presigned.url,
        upload_headers=presigned.headers,
        expires_at=presigned.expires_at,
    )


async def confirm_upload(call: Call) -> FirmwarePublic:
    return await to_thread.run_sync(partial(_confirm, call.system, call.caller, call["id"]))


def _confirm(system: FleetSystem, caller: Principal, firmware_id: UUID) -> FirmwarePublic:
    tenant = caller.tenant_id
    firmware = system.firmware_service.load(tenant, firmware_id)  # NotFound: not the tenant's
    system.firmware_service.require_confirmable(firmware)  # answered before the store
    key = object_key(tenant, firmware.sha256)
    blob = system.blobs.head(key)
    if blob is None:
        raise ImageNotUploaded(f"no image at the presigned URL of firmware {firmware.id} yet")
    sha256 = blob.sha256 or _sha256_of(system, key)
    command = ConfirmFirmwareUpload(firmware_id=firmware.id, size_bytes=blob.size, sha256=sha256)
    saved = system.firmware_service.confirm_upload(command, caller.metadata())
    if saved.aggregate.status is FirmwareStatus.REJECTED and sha256 != firmware.sha256:
        system.blobs.delete(key)  # bytes under another content's key: never kept
    return firmware_public(saved.aggregate)


def _sha256_of(system: FleetSystem, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in system.blobs.read_range(key):
        digest.update(chunk)
    return digest.hexdigest()


OPERATIONS = (
    Operation(
        "request_firmware_upload", UPLOAD, request_upload, FirmwareUploadPublic,
        shape=FirmwareUploadBody,
        rest=Rest(
            "POST", "/firmware/uploads",
            "Request an upload of a large image: a presigned PUT (S3 only; 501 on the local "
            "store), then POST /firmware/{firmwareId}/confirm",
            status=202, etag=False, location=lambda upload: f"/firmware/{upload.firmware.id}",
            responses={501: {"description": "The blob store cannot presign (local)."}},
        ),
        graphql=GraphQL("request_firmware_upload", MUTATION, "RequestFirmwareUploadInput"),
    ),
    Operation(
        "confirm_firmware_upload", UPLOAD, confirm_upload, FirmwarePublic, args=(FIRMWARE_ID,),
        rest=Rest(
            "POST", "/firmware/{firmwareId}/confirm",
            "Confirm a presigned upload: AVAILABLE when the stored image is the one requested, "
            "else REJECTED with the reason",
            responses=not_found("firmware release")
            | {409: {"description": "Not uploaded yet (IMAGE_NOT_UPLOADED), or not pending."}},
        ),
        graphql=GraphQL("confirm_firmware_upload", MUTATION, "ConfirmFirmwareUploadInput"),
    ),
)  # fmt: skip
