"""The stages of a deployment and what differs between them, and the data the stacks are made
from. Pure: no CDK here, so tests and the census import it without starting jsii."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGES = ("dev", "staging", "prod")
TABLES_FILE = Path(__file__).with_name("tables.json")
FEED_TABLE = "events"  # the table whose stream wakes the projectors
ROLES = ("viewer", "operator", "admin", "auditor")  # Cognito groups = the API's roles
# Routes the API function authenticates itself (device tokens, presigned URLs), or open.
DEVICE_ROUTES = (
    ("/ingest", "POST"),
    ("/devices/{deviceId}/jobs/next", "GET"),
    ("/devices/{deviceId}/jobs/{executionId}/updates", "POST"),
    ("/firmware/{firmwareId}/image", "GET"),
    ("/firmware/blobs/{proxy+}", "GET"),
    ("/health", "GET"),
)
# The tables of the write side and of the workers that are not read models (the audit ledger,
# the notification and OTA outboxes and timers, process managers' state): created by
# event_store, audit, notifications and ota, never by a read model's package (`signing_keys`
# is the firmware model's: the releases' signing keys).
NOT_READ_MODELS = (
    "events", "snapshots", "personal_keys", "state_snapshots", "ledger",
    "notification_outbox", "ota_outbox", "ota_timers",
)  # fmt: skip
# What each function's code reads and writes, by table name without the prefix ("*": all,
# "!name": but that one). Every function reads every table (each builds the whole system,
# which describes every table it opens). Writes, measured by
# tests/integration/test_infra_access.py (what it saw must be listed here): ingestion its
# events and the telemetry streams' snapshots; the projector (the read models and the
# notifier) no table of `NOT_READ_MODELS` but the notifier's outbox; the processes function
# (alerting, OTA, the ledger, Parquet, the exporter) the events its process managers decide,
# their checkpoints, state snapshots, the ledger, the OTA timers and notices; the scheduled
# function (notifications, offline detection) the outbox and the offline transitions. The API
# is the composition root of every command and writes every table. The WebSocket function
# writes the gateway's connections and subscriptions (by design: it commits nothing; not
# measured).
PROCESSES_WRITES = (
    "events", "snapshots", "state_snapshots", "tracking", "ledger", "ota_timers", "ota_outbox",
)  # fmt: skip
ACCESS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "api": (("*",), ("*",)),
    "ingest": (("*",), ("events", "snapshots")),
    "projector": (
        ("*",),
        ("*", *(f"!{name}" for name in NOT_READ_MODELS if name != "notification_outbox")),
    ),
    "processes": (("*",), PROCESSES_WRITES),
    "scheduled": (("*",), ("events", "snapshots", "notification_outbox")),
    "websocket": (("*",), ("ws_connections", "ws_subscriptions")),
    "jobs": (("*",), ("events",)),
}
# The notification senders a stack may configure (context `notifySenders`): "log" (a log line
# each, the default), SES for email (needs context `sesFrom`, a verified identity), SNS for SMS.
STACK_SENDERS = ("log", "ses", "sns")
# Tables whose rows expire: DynamoDB's TTL on this attribute (epoch seconds).
TTL_ATTRIBUTES = {"ws_connections": "expires_at", "ws_subscriptions": "expires_at"}


def writable(access: tuple[str, ...], table: str) -> bool:
    """Whether `table` is among the writes `access` lists ("*", names, "!name")."""
    if f"!{table}" in access:
        return False
    return "*" in access or table in access


def table_specs() -> list[dict[str, Any]]:
    """The census of the tables the code makes (CreateTable's key schema, attributes and
    indexes; names without the prefix)."""
    specs: list[dict[str, Any]] = json.loads(TABLES_FILE.read_text())
    return specs


@dataclass(frozen=True)
class Stage:
    """What a stage decides. `retain`: tables, buckets and the key outlive the stack (and
    tables are protected from deletion); `telemetry_via_kinesis`: the IoT rule writes to a
    Kinesis stream that a function reads in batches (else it invokes the function once per
    message)."""

    name: str
    retain: bool
    telemetry_via_kinesis: bool
    log_retention_days: int
    api_memory_mb: int = 1024
    ingest_memory_mb: int = 1024
    projector_memory_mb: int = 1024
    sweep_minutes: int = 1  # the projectors' catch-up sweep
    # Seconds the Kinesis mapping gathers telemetry before invoking ingestion (staging, prod):
    # a device's messages of the window become one event, so one feed takes about
    # 22 commits/s x 38 devices x the window devices at once a second (docs/event-store.md
    # 6.5): 5 s, about 4,000 devices; 20 s (`-c telemetryWindow=20`), 10,000 and more. The
    # read models, alerts included, are as late as the window.
    telemetry_window_s: int = 5
    iterator_age_alarm_s: int = 60  # the stream's oldest record waiting this long: alarm

    @property
    def table_prefix(self) -> str:
        return f"fleetwatch_{self.name}_"

    @property
    def stack_name(self) -> str:
        return f"Fleetwatch-{self.name}"


@dataclass(frozen=True)
class Notify:
    """How the scheduled function delivers the outbox's notifications."""

    senders: tuple[str, ...] = ("log",)
    ses_from: str | None = None

    @classmethod
    def parse(cls, senders: str | None, ses_from: str | None) -> Notify:
        """From the app's context; a ValueError naming what is wrong."""
        names = tuple(s.strip() for s in (senders or "log").split(",") if s.strip())
        unknown = sorted(set(names) - set(STACK_SENDERS))
        if unknown or not names:
            raise ValueError(f"notifySenders: {unknown or names} not of {', '.join(STACK_SENDERS)}")
        if "ses" in names and not ses_from:
            raise ValueError("notifySenders ses needs sesFrom, a verified SES identity")
        return cls(names, ses_from or None)

    def environment(self, region: str) -> dict[str, str]:
        found = {"FLEETWATCH_NOTIFY_SENDERS": ",".join(self.senders)}
        found["FLEETWATCH_NOTIFY_REGION"] = region
        if self.ses_from:
            found["FLEETWATCH_SES_FROM"] = self.ses_from
        return found


def emulator_url(value: object) -> str | None:
    """The context `emulator`: the base URL of the local emulator a stack is deployed to
    (`scripts/local_deploy`: ministack), or None for AWS. A ValueError for anything but
    http://host:port."""
    if value is None or value == "":
        return None
    text = str(value).rstrip("/")
    scheme, _, rest = text.partition("://")
    host, _, port = rest.partition(":")
    if scheme != "http" or not host or not port.isdigit() or "/" in rest:
        raise ValueError(f"emulator: {value!r} is not http://host:port")
    return text


def telemetry_window(value: object) -> int | None:
    """The context `telemetryWindow` (seconds, 0-300, the mapping's range), or None."""
    if value is None or value == "":
        return None
    text = str(value)
    if not text.isdigit() or not 0 <= int(text) <= 300:
        raise ValueError(f"telemetryWindow: {value!r} is not a whole number of seconds, 0-300")
    return int(text)


def stage(name: str) -> Stage:
    """The stage called `name`; a ValueError naming the known ones otherwise."""
    if name == "dev":
        return Stage("dev", retain=False, telemetry_via_kinesis=False, log_retention_days=7)
    if name == "staging":
        return Stage("staging", retain=False, telemetry_via_kinesis=True, log_retention_days=30)
    if name == "prod":
        return Stage("prod", retain=True, telemetry_via_kinesis=True, log_retention_days=365)
    raise ValueError(f"unknown stage {name!r}: one of {', '.join(STAGES)}")


def function_environment(
    stage: Stage,
    *,
    region: str,
    user_pool_id: str,
    user_pool_client_id: str,
    blob_bucket: str,
    analytics_bucket: str,
    kms_key_arn: str,
    emulator: str | None = None,
) -> dict[str, str]:
    """The settings (FLEETWATCH_*) every function of the stage runs with: DynamoDB with the
    stage's table prefix (tables made by the stack, never by the code), no projections inside
    the API or ingestion (the projector function runs them), users' JWTs from the stage's
    Cognito pool (ID tokens: they carry `custom:tenant_id`), blobs and analytics in S3,
    personal data keys wrapped by the stage's KMS key, OTA job documents through IoT Core (its
    data endpoint asked of IoT at the first publish: `describe`). `emulator` (a local
    deployment's base URL): the pool's keys from the emulator, which signs its tokens with the
    real issuer, and its IoT data plane."""
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
    jwks = f"{emulator}/{user_pool_id}" if emulator else issuer
    return {
        "FLEETWATCH_STORE": "dynamodb",
        "FLEETWATCH_DYNAMODB_TABLE_PREFIX": stage.table_prefix,
        "FLEETWATCH_CREATE_TABLES": "false",
        "FLEETWATCH_RUN_PROJECTIONS": "false",
        "FLEETWATCH_JWKS_URL": f"{jwks}/.well-known/jwks.json",
        "FLEETWATCH_JWT_ISSUER": issuer,
        "FLEETWATCH_JWT_AUDIENCE": user_pool_client_id,
        "FLEETWATCH_TENANT_CLAIM": "custom:tenant_id",
        "FLEETWATCH_ROLES_CLAIM": "cognito:groups",
        "FLEETWATCH_BLOB_STORE": "s3",
        "FLEETWATCH_FIRMWARE_BUCKET": blob_bucket,
        "FLEETWATCH_ANALYTICS_BUCKET": analytics_bucket,
        "FLEETWATCH_PERSONAL_KEYS_KMS_KEY": kms_key_arn,
        "FLEETWATCH_OTA_IOT_ENDPOINT": emulator or "describe",
    }
