"""Settings, read from the environment (prefix FLEETWATCH_, plus REDIS_URL) by the composition
root only. Nothing connects at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "fleetwatch-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETWATCH_", extra="ignore")

    # Event store and read models: "sqlite" (embedded default) or "dynamodb".
    store: Literal["sqlite", "dynamodb"] = "sqlite"
    sqlite_path: Path = Path(".fleetwatch/fleetwatch.sqlite3")
    # The read models (views and their checkpoints) live in a second SQLite file, so the event
    # store's writers never wait for a projection's transaction. Default: beside `sqlite_path`,
    # named `<stem>-read-models<suffix>`. Rebuildable: deleting it replays the feed.
    sqlite_read_models_path: Path | None = None
    # One watcher of the SQLite file per process wakes its idle readers when events are
    # committed by anybody (docs/event-store.md 6.2); false: they poll the feed every 50 ms.
    sqlite_feed_watch: bool = True
    dynamodb_endpoint_url: str | None = None
    dynamodb_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("FLEETWATCH_DYNAMODB_REGION", "AWS_REGION"),
    )
    dynamodb_table_prefix: str = "fleetwatch_"
    create_tables: bool = True
    # Serve the read models `fleetwatch replay --keep` kept instead of the live ones, read only
    # (`fleetwatch serve --as-of`, docs/audit.md 19.2): on SQLite the directory it printed (one
    # `<model>.sqlite3` each), on DynamoDB the table prefix it printed (`<prefix>as-of-…-`).
    # No worker runs, nothing is ingested, every command is refused (`READ_ONLY`) but the
    # record of a read of the trail.
    as_of_read_models: str | None = None

    # Fan-out of change notifications to subscriptions: in-process unless REDIS_URL is set, or,
    # in the projector function on AWS, to the subscriptions stored through API Gateway's
    # WebSocket API: its `@connections` endpoint (https://{api}.execute-api.{region}.amazonaws.com
    # /{stage}; fleetwatch/ws_gateway.py).
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("FLEETWATCH_REDIS_URL", "REDIS_URL")
    )
    ws_gateway_endpoint: str | None = None

    # Live GraphQL subscriptions executed once per group of identical ones (document,
    # variables, tenant, roles), the result sent to every member (issue 14); false: once per
    # subscriber (the baseline `bench/subscriptions.py` compares with).
    shared_subscriptions: bool = True
    # Websocket per-message deflate: each frame compressed per connection (measured: ~50 us
    # per frame, which no group can share, for change frames of a few hundred bytes), so off
    # unless asked for (issue 14; docs/api.md 13.6).
    ws_compression: bool = False
    # A shared group writes its members' `next` frames onto their connections itself, below
    # ASGI (`api.graphql.frames`; off with compression); false: every frame through ASGI (the
    # baseline `bench/subscriptions.py` compares with, and a way back should a server differ).
    subscription_frames: bool = True

    # Projection workers run inside `serve` unless disabled (e.g. several API processes).
    run_projections: bool = True
    # Which of them this process runs, comma separated (empty: all): spread them over processes
    # (and cores), e.g. "telemetry" in one and the others in another. The notification
    # dispatcher runs where "notifier" does.
    projections: str = ""
    # One active process per worker (issue 14): a worker runs where its lease is held
    # (docs/projections.md 7.3), so processes told to run the same workers split them, and a
    # killed holder's workers move within `lease_ttl` + `lease_interval` seconds. False: every
    # process told to run a worker runs it (duplicated work, kept correct by the checkpoints).
    worker_leases: bool = True
    lease_ttl: float = Field(default=6.0, gt=0)  # seconds a lease runs past its last renewal
    lease_interval: float = Field(default=1.5, gt=0)  # seconds between renewals and takings
    # This process's name as a lease holder; unique per process. Default: host, pid and a
    # random part, so a restarted process waits for its predecessor's leases to expire. A
    # stable one (a pod's or a unit's name) lets the restarted process take them back at once.
    instance_id: str | None = None

    # Authentication: HS256 with a development secret, or RS256 through a JWKS URL (Cognito).
    jwt_secret: str = DEV_JWT_SECRET
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    tenant_claim: str = "tenant_id"
    roles_claim: str = "roles"

    host: str = "127.0.0.1"
    port: int = 8000

    # Notifications (issue 4): alert notifications always queue in the outbox; the dispatcher
    # (run with the projection workers) delivers them through the senders named here, comma
    # separated: "log" (default: a log line per message) or any of "ses" (email), "sns" (SMS),
    # "fcm" (push); channels without a sender get the log line.
    notify_senders: str = "log"
    notify_poll_interval: float = Field(default=1.0, gt=0)  # seconds between idle outbox polls
    notify_region: str | None = None  # SES/SNS region; default: the DynamoDB region (AWS_REGION)
    notify_endpoint_url: str | None = None  # SES/SNS endpoint override (e.g. LocalStack)
    ses_from: str | None = None  # the From address of SES email
    fcm_project_id: str | None = None
    fcm_credentials_file: Path | None = None  # a Google service-account JSON key

    # Firmware images (docs/firmware.md section 12.1): "local" (files under `blob_dir`, the
    # embedded default) or "s3" (`firmware_bucket`, in the DynamoDB region, AWS_REGION).
    blob_store: Literal["local", "s3"] = "local"
    blob_dir: Path = Path(".fleetwatch/blobs")
    firmware_bucket: str | None = None
    blob_endpoint_url: str | None = None  # S3 endpoint override (MinIO, LocalStack, moto)
    # An upload's limit; at most 5 GiB (an S3 image is moved by one CopyObject).
    firmware_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0, le=5 * 1024**3)

    # OTA (docs/firmware.md section 12.4): the broker job documents are published to (unset:
    # devices poll for their jobs), the publisher's client id, the longest sleep of the job
    # dispatcher (and of the timer loop after a failure), and the longest the idle timer loop
    # sleeps without reading its store (a timer stored by another process is seen then).
    ota_mqtt_url: str | None = None  # mqtt://host:port, or mqtts://user:password@host:port
    # Or AWS IoT Core's data endpoint (https://...-ats.iot.<region>.amazonaws.com), or
    # `describe` (asked of IoT once): job documents through IoT Core (`ota.iot_jobs`).
    ota_iot_endpoint: str | None = None
    ota_mqtt_client_id: str = "fleetwatch-jobs"
    ota_poll_interval: float = Field(default=1.0, gt=0)
    ota_timer_max_idle: float = Field(default=10.0, gt=0)

    # Tamper evidence (docs/audit.md section 19.4): the ledger's SQLite file (default: beside
    # `sqlite_path`, named `<stem>-ledger<suffix>`), the system's ed25519 key for checkpoints
    # (base64 of a 32-byte seed; unset: a development key derived from the JWT secret, never
    # for production), tenants' own keys (JSON: tenant -> base64 seed), the retired public keys
    # still trusted (JSON: tenant, or "*" for the system's -> list of base64 raw public keys)
    # and the seconds between two checkpoints the ledger signs for a tenant whose log grew.
    # Personal data's keys wrapped by this AWS KMS key (id, ARN or alias; docs/audit.md 19.7):
    # unset, they are stored as they are (in their own file or table).
    personal_keys_kms_key: str | None = None
    sqlite_ledger_path: Path | None = None
    audit_signing_key: str | None = None
    audit_tenant_signing_keys: dict[str, str] = Field(default_factory=dict)
    audit_retired_keys: dict[str, list[str]] = Field(default_factory=dict)
    audit_checkpoint_interval: float = Field(default=60.0, ge=0)

    @property
    def ledger_path(self) -> Path:
        if self.sqlite_ledger_path is not None:
            return self.sqlite_ledger_path
        path = self.sqlite_path
        return path.with_name(f"{path.stem}-ledger{path.suffix}")

    # Analytics (docs/analytics.md 20.2): the telemetry Parquet files (default: `analytics/`
    # beside the SQLite file) and when the writer flushes them (readings buffered, or seconds
    # after the first buffered one).
    analytics_dir: Path | None = None
    # Each file also uploaded to s3://<analytics_bucket>/<analytics_prefix>/ (its endpoint:
    # `blob_endpoint_url`), for Athena or Trino; unset: local files only.
    analytics_bucket: str | None = None
    analytics_prefix: str = "telemetry"
    analytics_flush_readings: int = Field(default=100_000, gt=0)
    analytics_flush_seconds: float = Field(default=5.0, gt=0)
    # Seconds between two snapshots of the alerting process manager's state (0: none): a
    # restart reads the events after the last one, and keeps pending runs and windows.
    alerting_snapshot_interval: float = Field(default=300.0, ge=0)

    @property
    def analytics_path(self) -> Path:
        return self.analytics_dir or self.sqlite_path.parent / "analytics"

    @property
    def read_models_path(self) -> Path:
        if self.sqlite_read_models_path is not None:
            return self.sqlite_read_models_path
        path = self.sqlite_path
        return path.with_name(f"{path.stem}-read-models{path.suffix}")

    @property
    def projection_names(self) -> list[str]:
        return [name.strip() for name in self.projections.split(",") if name.strip()]

    @property
    def notify_sender_names(self) -> list[str]:
        return [name.strip() for name in self.notify_senders.split(",") if name.strip()]
