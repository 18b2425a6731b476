"""Ingestion settings (prefix `FLEETWATCH_`), read by the composition root only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlparse

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingestion.mqtt_session import MqttTls


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETWATCH_", extra="ignore")

    # MQTT subscriber on devices/+/telemetry: unset means no subscriber in this process.
    mqtt_url: str | None = None  # mqtt://host:port
    mqtt_client_id: str = "fleetwatch-ingest"  # stable: the broker keeps its session
    mqtt_shared_group: str | None = "fleetwatch"  # $share/<group>/...: processes split the load
    mqtt_receive_maximum: int = Field(default=1000, ge=1, le=65535)  # in-flight window
    # TLS to an mqtts:// broker (every MQTT client of the process: the subscribers and the OTA
    # job publisher): the CA of the broker's certificate (unset: the system's CAs), and our own
    # certificate and key where the broker requires one (docs/ingestion.md: certificates).
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    # What proves a device's messages: its token in each message, or the broker that checked
    # the device's certificate and lets it publish on its own topics only (mqtts:// only).
    mqtt_device_auth: Literal["token", "certificate"] = "token"

    ingest_max_pending: int = Field(default=20_000, ge=1)  # messages held (queued + committing)
    # After the oldest queued message. It sets how many messages of a device share one event,
    # and every consumer pays per event as well as per message: at 8k msg/s on 2 cores, 20 ms
    # gave events too small for the consumers to keep up (bench/ingest.py,
    # docs/operations.md section 16).
    ingest_flush_ms: int = Field(default=250, ge=1)
    # Commits wait while the read models and the alerting policy that apply telemetry (in any
    # process) are more than this far behind them and catching up (ingestion.buffer: pacing);
    # 0: never wait.
    ingest_max_consumer_lag_ms: int = Field(default=1000, ge=0)
    ingest_flush_devices: int | None = None  # default: 500 on SQLite, 40 on DynamoDB
    # Telemetry streams the committing thread keeps loaded (least recently used go): a stream
    # missing from it is loaded from the store (its snapshot and the events since). About
    # 1.5 KB for a device sending every minute, 10 KB every second, 34 KB at ten a second
    # (bench/memory.py, docs/ingestion.md): raise it for fleets of more devices than this.
    ingest_cached_streams: int = Field(default=20_000, ge=1)
    heartbeat_timeout: int = Field(default=300, ge=1)  # seconds of silence before offline
    heartbeat_interval: float = Field(default=5.0, gt=0)  # seconds between offline checks

    @model_validator(mode="after")
    def _certificates_need_tls(self) -> Self:
        if self.mqtt_url is not None and urlparse(self.mqtt_url).scheme not in ("mqtt", "mqtts"):
            raise ValueError("FLEETWATCH_MQTT_URL is mqtt://host:port or mqtts://host:port")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            msg = "FLEETWATCH_MQTT_CERT_FILE and FLEETWATCH_MQTT_KEY_FILE go together"
            raise ValueError(msg)
        if self.mqtt_device_auth == "certificate" and (
            self.mqtt_url is None or urlparse(self.mqtt_url).scheme != "mqtts"
        ):
            msg = (
                "FLEETWATCH_MQTT_DEVICE_AUTH=certificate needs an mqtts:// FLEETWATCH_MQTT_URL: "
                "only a broker that checked the device's certificate proves its topic"
            )
            raise ValueError(msg)
        return self

    def mqtt_tls(self) -> MqttTls:
        return MqttTls(self.mqtt_ca_file, self.mqtt_cert_file, self.mqtt_key_file)
