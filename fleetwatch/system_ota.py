"""The OTA slice's services and the device side of its protocol (docs/firmware.md sections
12.1 and 12.5), built once for the `System`: the firmware and deployment services, the blob
store of the settings, the job documents, the `DeviceJobService` behind the device routes and,
when `FLEETWATCH_MQTT_URL` is set, the subscriber of job updates; and the sweeper of
unconfirmed uploads (`build_upload_sweeper`), which the orchestrator's timer loop fires."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fleetwatch.blobs import blob_store
from fleetwatch.settings import Settings
from ingestion.device_jobs import DeviceJobService
from ingestion.jobs_mqtt import JobUpdatesSubscriber
from ingestion.settings import IngestSettings
from ota.job_document import JobDocuments
from ota.port import BlobStore
from ota.schedule import TimerStore
from ota.upload_expiry import SharedBlob, UploadSweeper
from read_side.firmware import FirmwareFilter, FirmwareReader, FirmwareStatus
from read_side.paging import MAX_PAGE_SIZE
from write_side.application import FleetApplication
from write_side.credentials import DeviceDirectory
from write_side.deployment_service import DeploymentService
from write_side.firmware_service import FirmwareService


@dataclass(frozen=True)
class OtaServices:
    firmware_service: FirmwareService
    deployment_service: DeploymentService
    blobs: BlobStore
    documents: JobDocuments
    device_jobs: DeviceJobService
    jobs_mqtt: JobUpdatesSubscriber | None


def build_ota_services(
    app: FleetApplication, settings: Settings, ingest: IngestSettings, directory: DeviceDirectory
) -> OtaServices:
    """`directory`: the composition root's one cache of device credentials (telemetry
    ingestion's too), so a credential revoked or a device decommissioned is seen alike."""
    firmware = FirmwareService(app)
    deployments = DeploymentService(app, firmware)
    blobs = blob_store(settings)
    documents = JobDocuments(deployments, blobs)
    device_jobs = DeviceJobService(directory, deployments, documents, blobs)
    jobs_mqtt = None
    if ingest.mqtt_url is not None:
        jobs_mqtt = JobUpdatesSubscriber(
            device_jobs,
            ingest.mqtt_url,
            client_id=f"{ingest.mqtt_client_id}-jobs",
            shared_group=ingest.mqtt_shared_group,
            tls=ingest.mqtt_tls(),
            device_auth=ingest.mqtt_device_auth,
        )
    return OtaServices(firmware, deployments, blobs, documents, device_jobs, jobs_mqtt)


def read_model_sharing(reader: FirmwareReader) -> SharedBlob:
    """Whether another release of the tenant that is not REJECTED has that SHA-256 (so its
    content-addressed blob is that release's image too), from the firmware read model."""

    def shared(tenant_id: str, sha256: str, firmware_id: UUID) -> bool:
        after: str | None = None
        while True:
            page = reader.releases(tenant_id, FirmwareFilter(), MAX_PAGE_SIZE, after)
            if any(
                row.sha256 == sha256
                and row.firmware_id != firmware_id
                and row.status is not FirmwareStatus.REJECTED
                for row in page.items
            ):
                return True
            if page.next_cursor is None:
                return False
            after = page.next_cursor

    return shared


def build_upload_sweeper(
    services: OtaServices, firmware: FirmwareReader, timers: TimerStore
) -> UploadSweeper:
    """The sweeper of unconfirmed uploads (docs/firmware.md 12.1): `timers` to schedule a
    retry on (the orchestrator's timer store)."""
    shared = read_model_sharing(firmware)
    return UploadSweeper(services.firmware_service, services.blobs, shared, timers)
