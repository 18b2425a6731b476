"""The job document a device gets (docs/firmware.md section 12.5), one pydantic model for every
way it travels: MQTT `devices/{id}/jobs/notify` (the outbox dispatcher's `render_notice`) and
HTTP `GET /devices/{id}/jobs/next` (`JobDocuments.next_for_device`).

    {executionId, deploymentId, attempt, operation, lastSeq,
     firmware: {firmwareId, version, sha256, sizeBytes, url, urlExpiresAt, signature, keyId}}

Everything is read from the write side (the device's claim and the execution's stream), never
from a read model, so a document is never stale. The URL is the blob store's presigned GET: an
S3 URL, or for the local store a path on the API (`/firmware/blobs/...`, signed and expiring);
a device whose URL expired asks `GET /devices/{id}/jobs/next` again for a fresh one.

A revert execution installs the version the device came from: its release is found through
the `FirmwareVersion` marker of (the device's type, that version), not the deployment's release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ota.port import BlobStore
from ota.schedule import JobNotice, JobOperation
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_ports import FirmwareRelease
from write_side.deployment_service import DeploymentService
from write_side.deployment_states import ACTIVE, ExecutionState
from write_side.devices import Device
from write_side.firmware import FirmwareVersion, firmware_version_id
from write_side.firmware_objects import object_key
from write_side.semver import parse_semver

DEFAULT_URL_LIFETIME_S = 3600  # a download URL works this long; `jobs/next` gives a fresh one

_CONFIG = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class JobFirmware(BaseModel):
    """The image to install: where to get it and how to check it."""

    model_config = _CONFIG

    firmware_id: UUID
    version: str
    sha256: str
    size_bytes: int
    url: str
    url_expires_at: AwareDatetime
    signature: str | None
    key_id: str | None


class JobDocument(BaseModel):
    """One job for one device; devices deduplicate by (execution id, attempt, operation)."""

    model_config = _CONFIG

    execution_id: UUID
    deployment_id: UUID
    attempt: int
    operation: JobOperation
    last_seq: int  # the last sequence number applied: a device that lost its counter goes on
    firmware: JobFirmware

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class PendingJob:
    """The answer of `GET /devices/{id}/jobs/next`: the document and its entity tag."""

    document: JobDocument
    etag: str  # `"{executionId}:{attempt}:{execution version}"`, quotes included


def build_document(
    execution: DeploymentExecution,
    release: FirmwareRelease,
    operation: JobOperation,
    blobs: BlobStore,
    url_lifetime_s: int = DEFAULT_URL_LIFETIME_S,
) -> JobDocument:
    download = blobs.presign_get(object_key(release.tenant_id, release.sha256), url_lifetime_s)
    firmware = JobFirmware(
        firmware_id=release.id,
        version=release.version,
        sha256=release.sha256,
        size_bytes=release.size_bytes,
        url=download.url,
        url_expires_at=download.expires_at,
        signature=release.signature,
        key_id=release.key_id,
    )
    return JobDocument(
        execution_id=execution.id,
        deployment_id=execution.deployment_id,
        attempt=execution.execution.attempt,
        operation=operation,
        last_seq=execution.execution.last_seq,
        firmware=firmware,
    )


def etag_of(execution: DeploymentExecution) -> str:
    return f'"{execution.id}:{execution.execution.attempt}:{execution.version}"'


def notice_is_current(notice: JobNotice, execution: DeploymentExecution) -> bool:
    """Whether the execution is still in a state to be told `notice`: an install or revert
    while it is active at the notice's attempt (a later attempt, or an end, makes it stale);
    a cancel once it is canceled."""
    state = execution.execution.state
    if notice.operation == "cancel":
        return state is ExecutionState.CANCELED
    return state in ACTIVE and execution.execution.attempt == notice.attempt


class JobDocuments:
    """Builds job documents from the write side: `render_notice` for the outbox dispatcher,
    `next_for_device` for the polling route."""

    def __init__(
        self,
        deployments: DeploymentService,
        blobs: BlobStore,
        url_lifetime_s: int = DEFAULT_URL_LIFETIME_S,
    ) -> None:
        self.deployments = deployments
        self.blobs = blobs
        self.url_lifetime_s = url_lifetime_s

    def render_notice(self, notice: JobNotice) -> Mapping[str, object] | None:
        """The document to publish for `notice`; None when it is no longer to be told (the
        execution ended, moved to another attempt, or is gone): mark it sent unpublished."""
        execution = self.deployments.find_execution(notice.tenant_id, notice.execution_id)
        if execution is None or execution.device_id != notice.device_id:
            return None
        if not notice_is_current(notice, execution):
            return None
        release = self.release_for(execution)
        if release is None:
            return None
        return self.document(execution, release, notice.operation).to_json()

    def next_for_device(self, tenant_id: str, device_id: UUID) -> PendingJob | None:
        """The device's active execution as a document; None when nothing is pending."""
        execution = self.deployments.active_execution(tenant_id, device_id)
        if execution is None:
            return None
        release = self.release_for(execution)
        if release is None:
            return None
        operation: JobOperation = "revert" if execution.purpose == "revert" else "install"
        document = self.document(execution, release, operation)
        return PendingJob(document, etag_of(execution))

    def document(
        self, execution: DeploymentExecution, release: FirmwareRelease, operation: JobOperation
    ) -> JobDocument:
        return build_document(execution, release, operation, self.blobs, self.url_lifetime_s)

    def release_for(self, execution: DeploymentExecution) -> FirmwareRelease | None:
        """The release the execution installs: the deployment's, or for a revert the release
        of the version the device came from, for its type (None when there is none)."""
        tenant, firmware = execution.tenant_id, self.deployments.firmware
        release = firmware.get(tenant, execution.firmware_id)
        target = execution.execution.target_version
        if release is not None and _same_version(release.version, target):
            return release
        app = self.deployments.app
        device = app.find(Device, tenant, execution.device_id)
        if device is None:
            return None
        marker_id = firmware_version_id(tenant, device.device_type, target)
        marker = app.find(FirmwareVersion, tenant, marker_id)
        return None if marker is None else firmware.get(tenant, marker.firmware_id)


def _same_version(a: str, b: str) -> bool:
    return parse_semver(a).identity == parse_semver(b).identity
