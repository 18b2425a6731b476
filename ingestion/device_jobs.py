"""The device side of OTA (docs/firmware.md section 12.5), framework-free: what the HTTP routes
(`ingestion/jobs_http.py`) and the MQTT subscriber (`ingestion/jobs_mqtt.py`) share.

Every call starts from `authenticate`: the device's token (`fwd1....`, as for telemetry) must be
the current credential of the device the path or topic names; the tenant is the device's, so
an execution or a release of another tenant is simply not found. The device identity never
comes from the body: an update's body is `{seq, status, percent?, version?, kind?, reason?,
at}` (MQTT adds `token`) and any other field is `INVALID_INPUT` naming it.

Errors are the domain's typed errors (`code`, and `field` for bad input); nothing is stored for
any of them (`DeploymentService.report_update` decides and commits at once). `STATUS` gives
the HTTP status of each code these routes answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from event_store.envelope import EventMetadata
from ota.downloads import Download, prepare_download
from ota.job_document import JobDocuments, PendingJob
from ota.local_blobs import LocalBlobStore
from ota.port import BlobStore
from write_side.credentials import AccessDenied, DeviceAccess, DeviceDirectory, check_access
from write_side.deployment_commands import ReportUpdate
from write_side.deployment_errors import FirmwareUnavailable
from write_side.deployment_service import DeploymentService
from write_side.devices import Device
from write_side.errors import DomainError, InvalidInput, NotFound
from write_side.firmware import installs_on
from write_side.firmware_objects import object_key

UPDATE_FIELDS = frozenset({"seq", "status", "percent", "version", "kind", "reason", "at"})
MAX_UPDATE_BYTES = 4096
REFRESH_AFTER_S = 1.0  # a refused device's cached access is reloaded at most this often

STATUS: Mapping[str, int] = {
    "UNAUTHENTICATED": 401,
    "UNKNOWN_DEVICE": 401,
    "DEVICE_DECOMMISSIONED": 403,
    "INVALID_INPUT": 422,
    "NOT_FOUND": 404,
    "STALE_UPDATE": 409,
    "CONFLICT": 409,
    "INVALID_TRANSITION": 422,
    "FIRMWARE_UNAVAILABLE": 409,
    "RANGE_NOT_SATISFIABLE": 416,
    "PRESIGNED_URL_INVALID": 403,
}


class DeviceDenied(DomainError):
    """The device did not authenticate (its code: one of `AccessDenied`)."""

    def __init__(self, reason: AccessDenied) -> None:
        super().__init__(_DENIED[reason])
        self.code = str(reason)


_DENIED = {
    AccessDenied.UNAUTHENTICATED: "a valid device token for this device is required",
    AccessDenied.UNKNOWN_DEVICE: "no such device",
    AccessDenied.DEVICE_DECOMMISSIONED: "the device is decommissioned",
}


@dataclass(frozen=True)
class UpdateAnswer:
    seq: int
    duplicate: bool

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "duplicate": self.duplicate}


def parse_device_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise DeviceDenied(AccessDenied.UNAUTHENTICATED) from None


def parse_update(
    device_id: UUID, execution_id: str, payload: bytes | Mapping[str, Any], *, token: bool = False
) -> ReportUpdate:
    """A device's update body as the command; `InvalidInput` naming the field (the body's
    name: `seq`, `status`, ...; `body` when it is not a JSON object). `token`: the body may
    carry the device's token (MQTT), which is not part of the update."""
    body = parse_body(payload)
    allowed = UPDATE_FIELDS | {"token"} if token else UPDATE_FIELDS
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", unknown[0])
    try:
        execution = UUID(execution_id)
    except ValueError:
        raise InvalidInput("not an execution id", "executionId") from None
    fields = {k: v for k, v in body.items() if k != "token"}
    try:
        return ReportUpdate.model_validate(
            fields | {"device_id": device_id, "execution_id": execution}
        )
    except ValidationError as e:
        error = e.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        raise InvalidInput(f"{field}: {error['msg']}", field) from None


def parse_body(payload: bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """The body as a JSON object; `InvalidInput(field="body")` otherwise."""
    if isinstance(payload, Mapping):
        return payload
    if len(payload) > MAX_UPDATE_BYTES:
        raise InvalidInput(f"the body is over {MAX_UPDATE_BYTES} bytes", "body")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise InvalidInput(f"not JSON: {e}", "body") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", "body")
    return body


class DeviceJobService:
    """Authenticate a device, then answer its job requests from the write side."""

    def __init__(
        self,
        directory: DeviceDirectory,
        deployments: DeploymentService,
        documents: JobDocuments,
        blobs: BlobStore,
    ) -> None:
        self.directory = directory
        self.deployments = deployments
        self.documents = documents
        self.blobs = blobs

    def authenticate(self, device_id: UUID, token: object, *, proven: bool = False) -> DeviceAccess:
        """The device's access when `token` is its current one, or when the channel `proven`
        the device id (an MQTT listener that checked the device's certificate)."""
        access = self.directory.lookup(device_id)
        denied = check_access(access, device_id, token, proven=proven)
        if denied in (AccessDenied.UNAUTHENTICATED, AccessDenied.UNKNOWN_DEVICE):
            access = self.directory.lookup(device_id, max_age=REFRESH_AFTER_S)
            denied = check_access(access, device_id, token, proven=proven)
        if denied is not None or access is None:
            raise DeviceDenied(denied or AccessDenied.UNKNOWN_DEVICE)
        return access

    def next_job(self, device: DeviceAccess) -> PendingJob | None:
        return self.documents.next_for_device(device.tenant_id, device.device_id)

    def report(self, device: DeviceAccess, command: ReportUpdate) -> UpdateAnswer:
        meta = EventMetadata(device.tenant_id, f"device:{device.device_id}")
        saved = self.deployments.report_update(command, meta)
        return UpdateAnswer(command.seq, duplicate=saved.position == 0)

    def image(self, device: DeviceAccess, firmware_id: UUID, range_header: str | None) -> Download:
        """The release's image for a device of its tenant that it installs on (`installs_on`:
        its type, and its hardware revision when the release names any)."""
        release = self.deployments.firmware.get(device.tenant_id, firmware_id)
        known = self.deployments.app.find(Device, device.tenant_id, device.device_id)
        if (
            release is None
            or known is None
            or not installs_on(
                release.device_types, release.hardware_revisions, known.device_type, known.metadata
            )
        ):
            raise NotFound(f"firmware {firmware_id} not found")
        if release.status != "AVAILABLE":
            raise FirmwareUnavailable(f"firmware {firmware_id} is {release.status.lower()}")
        return prepare_download(
            self.blobs, object_key(release.tenant_id, release.sha256), range_header
        )

    def presigned_image(
        self, rest: str, expires: str, signature: str, range_header: str | None
    ) -> Download:
        """The local store's presigned download, `/firmware/blobs/{tenant}/{sha256}?expires=
        ...&signature=...` (no credential: the URL is it). Not found with the S3 store."""
        if not isinstance(self.blobs, LocalBlobStore):
            raise NotFound("no such download")
        tenant, _, sha = rest.rpartition("/")
        try:
            key = object_key(tenant, sha)
        except InvalidInput:
            raise NotFound("no such download") from None
        expiry = int(expires) if expires.isdigit() else 0
        self.blobs.verify_presigned_get(key, expiry, signature)
        return prepare_download(self.blobs, key, range_header)
