"""The firmware operations (`api.operations`): releases (read, list, withdraw), the tenant's
signing keys and signature requirement, and fleet compliance, each declared once for REST and
GraphQL (docs/firmware.md 12.8). Commands go through the one command path
(`api.firmware_rows`); the upload (`POST /firmware/upload`, `requestFirmwareUpload`) is
written by hand apart (`api/rest/firmware.py`). The deployments' operations are
`api.deployments`'."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import strawberry
from fastapi import Path, Query

from api.auth import Permission
from api.command_path import build_command
from api.firmware_inputs import (
    FirmwareQuery,
    FirmwareWithdrawal,
    SignatureRequirement,
    SigningKeyRegistration,
    SigningKeyRevocation,
)
from api.firmware_rows import (
    deployments_reader,
    firmware_reader,
    run_firmware_command,
    run_keys_command,
)
from api.firmware_view import (
    CompliancePublic,
    FirmwarePublic,
    SignatureRequirementPublic,
    SigningKeyPublic,
)
from api.operations import (
    MUTATION,
    PAGE_ARGS,
    QUERY,
    Arg,
    Call,
    GraphQL,
    Operation,
    Paged,
    Rest,
    parse_id,
)
from api.rest.errors import conflict, not_found
from api.rest.firmware_models import FirmwarePage
from event_store.envelope import EventMetadata
from read_side.alerts.port import encode_cursor
from read_side.firmware.port import FIRMWARE_CURSOR, release_key
from read_side.firmware.row import FirmwareRow, SigningKeysRow
from read_side.paging import Page
from write_side.application import Saved
from write_side.errors import NotFound
from write_side.firmware_commands import (
    RegisterSigningKey,
    RequireSignedFirmware,
    RevokeSigningKey,
    WithdrawFirmware,
)
from write_side.firmware_keys import SigningKeys

FIRMWARE_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="firmwareId", description="The release's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("a firmware id"),
)
DEVICE_TYPE = Arg(
    "device_type",
    Annotated[str | None, Query(alias="deviceType", description="Only this device type.")],
    str | None,
    None,
)
KEY_ID = Arg(
    "key_id",
    Annotated[str, Path(alias="keyId", description="The key's id (16 hex digits).")],
    str,
)


async def get_firmware(call: Call) -> FirmwarePublic | None:
    row = await call.read(firmware_reader(call.system).get, call["id"])
    return None if row is None else FirmwarePublic.from_row(row)


async def list_firmware(call: Call) -> Page[FirmwareRow]:
    return await call.page(firmware_reader(call.system).releases, call.shape.criteria())


async def signing_keys(call: Call) -> list[SigningKeyPublic]:
    row = await call.read(firmware_reader(call.system).signing_keys)
    return [] if row is None else [SigningKeyPublic.from_row(key) for key in row.keys]


async def withdraw_firmware(call: Call) -> FirmwarePublic:
    fields = call.shape.model_dump() | {"firmware_id": call["id"]}
    command = build_command(WithdrawFirmware, fields)
    handle = call.system.firmware_service.withdraw
    return FirmwarePublic.from_row(
        await run_firmware_command(call.system, call.caller, handle, command)
    )


async def register_key(call: Call) -> SigningKeyPublic:
    command = build_command(RegisterSigningKey, call.shape.model_dump())
    registered: list[str] = []  # the key's id, as the service derived it

    def handle(cmd: RegisterSigningKey, meta: EventMetadata) -> Saved[SigningKeys]:
        key = call.system.firmware_service.register_key(cmd, meta)
        registered.append(key.key_id)
        return key.saved

    row = await run_keys_command(call.system, call.caller, handle, command)
    return _key(row, registered[0])


async def revoke_key(call: Call) -> SigningKeyPublic:
    fields = call.shape.model_dump() | {"key_id": call["key_id"]}
    command = build_command(RevokeSigningKey, fields)
    handle = call.system.firmware_service.revoke_key
    return _key(await run_keys_command(call.system, call.caller, handle, command), command.key_id)


async def require_signed(call: Call) -> SignatureRequirementPublic:
    command = build_command(RequireSignedFirmware, call.shape.model_dump())
    handle = call.system.firmware_service.require_signed
    row = await run_keys_command(call.system, call.caller, handle, command)
    return SignatureRequirementPublic(required=row.required, version=row.version)


async def fleet_compliance(call: Call) -> list[CompliancePublic]:
    releases = firmware_reader(call.system)
    rows = await call.read(deployments_reader(call.system).compliance, call["device_type"])
    shown = []
    for row in rows:
        latest = row.latest_firmware_id
        release = None if latest is None else await call.read(releases.get, latest)
        shown.append(CompliancePublic.from_row(row, release))
    return shown


def _key(row: SigningKeysRow, key_id: str) -> SigningKeyPublic:
    for key in row.keys:
        if key.key_id == key_id:
            return SigningKeyPublic.from_row(key)
    raise NotFound(f"signing key {key_id} not found")


READ, UPLOAD = Permission.READ_FIRMWARE, Permission.UPLOAD_FIRMWARE
# Static paths (`/firmware/signing-keys`, ...) come before `/firmware/{firmwareId}`: FastAPI
# matches in order, and `api.app` includes `api.deployments`' routes before these.
NO_FIRMWARE = not_found("firmware release")
OPERATIONS = (
    Operation(
        "list_firmware", READ, list_firmware, FirmwarePublic, shape=FirmwareQuery, args=PAGE_ARGS,
        paged=Paged(
            FirmwarePublic.from_row,
            lambda row: encode_cursor(FIRMWARE_CURSOR, release_key(row)),
            FirmwarePage,
        ),
        rest=Rest("GET", "/firmware", "List firmware releases (highest version first)",
                  shape_in="query"),
        graphql=GraphQL("firmware_releases", QUERY, input="FirmwareFilter"),
    ),
    Operation(
        "signing_keys", READ, signing_keys, SigningKeyPublic, many=True,
        rest=Rest("GET", "/firmware/signing-keys", "The tenant's signing keys (revoked kept)",
                  etag=False),
        graphql=GraphQL("signing_keys", QUERY),
    ),
    Operation(
        "fleet_compliance", READ, fleet_compliance, CompliancePublic, args=(DEVICE_TYPE,),
        many=True,
        rest=Rest("GET", "/firmware/compliance", "Reported versions per device type",
                  etag=False),
        graphql=GraphQL("fleet_compliance", QUERY),
    ),
    Operation(
        "get_firmware", READ, get_firmware, FirmwarePublic, args=(FIRMWARE_ID,),
        nullable=True, missing="firmware {id} not found",
        rest=Rest(
            "GET", "/firmware/{firmwareId}", "Show a firmware release", responses=NO_FIRMWARE
        ),
        graphql=GraphQL("firmware", QUERY),
    ),
    Operation(
        "withdraw_firmware", UPLOAD, withdraw_firmware, FirmwarePublic, shape=FirmwareWithdrawal,
        args=(FIRMWARE_ID,),
        rest=Rest(
            "POST", "/firmware/{firmwareId}/withdraw",
            "Withdraw a release (no new deployment may use it)", shape_in="optional body",
            if_match="a firmware release", responses=NO_FIRMWARE | conflict("firmware release"),
        ),
        graphql=GraphQL("withdraw_firmware", MUTATION, "WithdrawFirmwareInput"),
    ),
    Operation(
        "register_signing_key", UPLOAD, register_key, SigningKeyPublic,
        shape=SigningKeyRegistration,
        rest=Rest("POST", "/firmware/signing-keys", "Register an ed25519 signing key",
                  status=201, etag=False),
        graphql=GraphQL("register_signing_key", MUTATION, "RegisterSigningKeyInput"),
    ),
    Operation(
        "revoke_signing_key", UPLOAD, revoke_key, SigningKeyPublic, shape=SigningKeyRevocation,
        args=(KEY_ID,),
        rest=Rest("POST", "/firmware/signing-keys/{keyId}/revoke", "Revoke a signing key",
                  shape_in="optional body", etag=False, responses=not_found("signing key")),
        graphql=GraphQL("revoke_signing_key", MUTATION, "RevokeSigningKeyInput"),
    ),
    Operation(
        "require_signed_firmware", UPLOAD, require_signed, SignatureRequirementPublic,
        shape=SignatureRequirement,
        rest=Rest("PUT", "/firmware/signing-requirement",
                  "Whether new releases must be signed"),
        graphql=GraphQL("require_signed_firmware", MUTATION, "RequireSignedFirmwareInput"),
    ),
)  # fmt: skip
