"""The telemetry command path of the composition root: the ingestion handler behind its bounded
buffer, and the MQTT subscriber when `FLEETWATCH_MQTT_URL` is set (docs/ingestion.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetwatch.settings import Settings
from ingestion.buffer import IngestService
from ingestion.settings import IngestSettings
from write_side.application import FleetApplication
from write_side.credentials import DeviceDirectory
from write_side.ingestion import RawHistory, TelemetryIngestion

if TYPE_CHECKING:
    from ingestion.mqtt import MqttIngestor


def build_ingestion(
    app: FleetApplication,
    settings: Settings,
    ingest: IngestSettings,
    directory: DeviceDirectory,
    history: RawHistory | None = None,
) -> tuple[IngestService | None, MqttIngestor | None]:
    """The telemetry handler behind its bounded buffer, and the MQTT subscriber if configured;
    neither where the process serves kept read models (`fleetwatch.as_of`: nothing ingested).
    `directory`: the process's one cache of device credentials (the device routes share it);
    `history`: the telemetry read model's raw history, asked about late redeliveries only."""
    if settings.as_of_read_models:
        return None, None
    dynamodb = settings.store == "dynamodb"
    handler = TelemetryIngestion(
        app,
        directory,
        heartbeat_timeout_s=ingest.heartbeat_timeout,
        max_streams_per_call=40 if dynamodb else 500,  # DynamoDB: 100 actions per transaction
        max_cached_streams=ingest.ingest_cached_streams,
        history=history,
    )
    service = IngestService(
        handler,
        max_pending=ingest.ingest_max_pending,
        flush_interval=ingest.ingest_flush_ms / 1000,
        flush_devices=ingest.ingest_flush_devices or (40 if dynamodb else 500),
        heartbeat_interval=ingest.heartbeat_interval,
        max_consumer_lag=ingest.ingest_max_consumer_lag_ms / 1000 or None,
    )
    if ingest.mqtt_url is None:
        return service, None
    from ingestion.mqtt import MqttIngestor

    mqtt = MqttIngestor(
        service,
        ingest.mqtt_url,
        client_id=ingest.mqtt_client_id,
        shared_group=ingest.mqtt_shared_group,
        receive_maximum=ingest.mqtt_receive_maximum,
        tls=ingest.mqtt_tls(),
        device_auth=ingest.mqtt_device_auth,
    )
    return service, mqtt
