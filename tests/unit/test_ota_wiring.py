"""The composition root builds the OTA slice once (`fleetwatch/system_ota.py`): one firmware
service that the deployment service reads, one blob store shared by the job documents and the
device routes, one device directory (the credentials cache) shared with telemetry ingestion,
and the job-update subscriber only beside the MQTT ingestor."""

from __future__ import annotations

from pathlib import Path

from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from ota.local_blobs import LocalBlobStore


def test_the_system_holds_one_of_each_and_shares_them(tmp_path: Path) -> None:
    settings = Settings(sqlite_path=tmp_path / "f.sqlite3", blob_dir=tmp_path / "blobs")
    system = build_system(settings)  # not started: nothing connects
    try:
        assert system.deployment_service.firmware is system.firmware_service
        assert system.deployment_service.app is system.app
        assert isinstance(system.blobs, LocalBlobStore)
        assert system.blobs.root == tmp_path / "blobs"
        assert system.job_documents is not None
        assert system.device_jobs is not None
        assert system.job_documents.blobs is system.blobs is system.device_jobs.blobs
        assert system.device_jobs.deployments is system.deployment_service
        assert system.jobs_mqtt is None  # no FLEETWATCH_MQTT_URL
        # One cache of device credentials: telemetry and the device routes agree after a revoke.
        assert system.ingest.handler.directory is system.device_jobs.directory
    finally:
        system.close()


def test_the_job_update_subscriber_comes_with_the_mqtt_url(tmp_path: Path) -> None:
    settings = Settings(sqlite_path=tmp_path / "f.sqlite3", blob_dir=tmp_path / "blobs")
    ingest = IngestSettings(mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id="ingest-7")
    system = build_system(settings, ingest)  # not started: nothing connects
    try:
        assert system.jobs_mqtt is not None
        assert system.jobs_mqtt.subscription == "$share/fleetwatch/devices/+/jobs/+/update"
        assert system.jobs_mqtt.client._client_id == b"ingest-7-jobs"
        assert system.jobs_mqtt.service is system.device_jobs
    finally:
        system.close()
