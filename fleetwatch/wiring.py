"""What the system is made of, declared: the read models (a view and a reader per store, and
the projection that feeds the view), the other consumers of the feed, the order the workers
are kept in and which of them share a thread. `fleetwatch.system.build_system` builds from
these lists; adding a read model is adding an entry here, not editing the builder.

Also the store-level wiring every builder needs: the `eventsourcing` environment that selects
the event store, the read models' SQLite file, the fan-out.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from event_store.sqlite import SQLiteTrackingRecorder
from event_store.sqlite_files import ReadModelsDatastore
from fleetwatch.as_of import close_kept, kept_file, kept_tables
from fleetwatch.settings import Settings
from projections.alert_views import AlertsProjection
from projections.batching import BatchProjection
from projections.dashboard import DashboardProjection
from projections.deployments import DeploymentsProjection
from projections.device_status import DeviceStatusProjection
from projections.export_views import ExportsProjection
from projections.firmware import FirmwareProjection
from projections.telemetry import TelemetryProjection
from projections.users import UsersProjection
from read_side.alerts.dynamodb import DynamoDBAlertReader, DynamoDBAlertsView
from read_side.alerts.sqlite import SQLiteAlertReader, SQLiteAlertsView
from read_side.dashboard.dynamodb import DynamoDBDashboardReader, DynamoDBDashboardView
from read_side.dashboard.sqlite import SQLiteDashboardReader, SQLiteDashboardView
from read_side.deployments.dynamodb import DynamoDBDeploymentsReader, DynamoDBDeploymentsView
from read_side.deployments.sqlite import SQLiteDeploymentsReader, SQLiteDeploymentsView
from read_side.device_status.dynamodb import DynamoDBDeviceStatusReader, DynamoDBDeviceStatusView
from read_side.device_status.sqlite import SQLiteDeviceStatusReader, SQLiteDeviceStatusView
from read_side.exports.dynamodb import DynamoDBExportsReader, DynamoDBExportsView
from read_side.exports.sqlite import SQLiteExportsReader, SQLiteExportsView
from read_side.firmware.dynamodb import DynamoDBFirmwareReader, DynamoDBFirmwareView
from read_side.firmware.sqlite import SQLiteFirmwareReader, SQLiteFirmwareView
from read_side.notifications import Fanout
from read_side.telemetry.dynamodb import DynamoDBTelemetryReader, DynamoDBTelemetryView
from read_side.telemetry.sqlite import SQLiteTelemetryReader, SQLiteTelemetryView
from read_side.users.dynamodb import DynamoDBUsersReader, DynamoDBUsersView
from read_side.users.sqlite import SQLiteUsersReader, SQLiteUsersView
from write_side.application import FleetApplication


@dataclass(frozen=True)
class ReadModel:
    """One read model: its view (the writer, which holds its checkpoint) and its reader on each
    store, and the projection that feeds the view (given the view and the reader)."""

    name: str
    sqlite: tuple[type[Any], Callable[[SQLiteDatastore], Any]]
    dynamodb: tuple[type[Any], Callable[[Any, str], Any]]
    projection: Callable[[Any, Any], BatchProjection]
    publishes: bool = True  # its change notices go to the fan-out (subscriptions)


READ_MODELS: tuple[ReadModel, ...] = (
    ReadModel(
        "device_status",
        (SQLiteDeviceStatusView, SQLiteDeviceStatusReader),
        (DynamoDBDeviceStatusView, DynamoDBDeviceStatusReader),
        DeviceStatusProjection,
    ),
    ReadModel(
        "telemetry",  # raw readings and rollups (issue 4)
        (SQLiteTelemetryView, SQLiteTelemetryReader),
        (DynamoDBTelemetryView, DynamoDBTelemetryReader),
        lambda view, _reader: TelemetryProjection(view),
    ),
    ReadModel(
        "alerts",  # alert rules, alerts, alert timeline (issue 4)
        (SQLiteAlertsView, SQLiteAlertReader),
        (DynamoDBAlertsView, DynamoDBAlertReader),
        AlertsProjection,
    ),
    ReadModel(
        "users",  # the notifier's recipients, `me` (issue 4); nobody subscribes to it
        (SQLiteUsersView, SQLiteUsersReader),
        (DynamoDBUsersView, DynamoDBUsersReader),
        UsersProjection,
        publishes=False,
    ),
    ReadModel(
        "firmware",  # releases and signing keys (docs/firmware.md 12.7); no subscription
        (SQLiteFirmwareView, SQLiteFirmwareReader),
        (DynamoDBFirmwareView, DynamoDBFirmwareReader),
        FirmwareProjection,
        publishes=False,
    ),
    ReadModel(
        "deployments",  # deployments, executions and their history, compliance (12.7)
        (SQLiteDeploymentsView, SQLiteDeploymentsReader),
        (DynamoDBDeploymentsView, DynamoDBDeploymentsReader),
        DeploymentsProjection,
    ),
    ReadModel(
        "dashboard",  # the analytics dashboard's figures (docs/analytics.md 20.1)
        (SQLiteDashboardView, SQLiteDashboardReader),
        (DynamoDBDashboardView, DynamoDBDashboardReader),
        DashboardProjection,
        publishes=False,
    ),
    ReadModel(
        "exports",  # exports' status, rows, bytes, blob (docs/analytics.md 20.5)
        (SQLiteExportsView, SQLiteExportsReader),
        (DynamoDBExportsView, DynamoDBExportsReader),
        ExportsProjection,
    ),
)
# Consumers of the feed that are not read models (`fleetwatch.consumers` builds them): the
# alerting process manager (records alert events), the notifier (writes the outbox) and the
# OTA schedule writer (the orchestrator's timers and the devices' job notices) and the OTA
# orchestrator (records deployment decisions and executions), the audit ledger (hash
# chains, per-tenant Merkle logs, signed checkpoints: docs/audit.md section 19.4; never
# rebuilt, a ledger rebuilt from the store would take in whatever was changed there), and the
# Parquet writer (telemetry files for analytics, docs/analytics.md 20.2; not rebuildable: its
# files are not a table), and the exporter (docs/analytics.md 20.5: it writes export files into
# the blob store and records their progress; never rebuilt, nor waited for: an export runs for
# minutes).
CONSUMERS = ("alerting", "notifier", "ota_schedule", "ota", "ledger", "parquet", "exporter")
# On AWS (fleetwatch.lambdas): the projector function runs the read models, then the notifier
# (which waits for the users model: caught up just before it, in the same invocation); the
# processes function runs the other consumers.
LAMBDA_PROJECTOR = (*(model.name for model in READ_MODELS), "notifier")
LAMBDA_PROCESSES = tuple(name for name in CONSUMERS if name != "notifier")
# Every worker, in the order the system keeps (starts, waits for, reports) them.
WORKERS = (
    "device_status",
    "telemetry",
    "alerts",
    "alerting",
    "users",
    "notifier",
    "firmware",
    "deployments",
    "ota_schedule",
    "ota",
    "ledger",
    "dashboard",
    "parquet",
    "exports",
    "exporter",
)
# Workers no query reads from: not waited for after a command, nor paced with by ingestion.
UNAWAITED = ("ledger", "exporter")
# Those `fleetwatch projections rebuild` may drop and replay (the outboxes are not rebuildable:
# a replay would queue every notification and job notice again).
PROJECTIONS = (
    "device_status",
    "telemetry",
    "alerts",
    "alerting",
    "users",
    "firmware",
    "deployments",
    "dashboard",
    "exports",
    "parquet",
)
# Workers that share one thread, one read and one decode of the feed (`projections.group`):
# those that read every telemetry batch. The dashboard (its ingest rates, firmware versions),
# the deployments model and the OTA orchestrator (reported versions, the health gate's metric)
# read them too: alone, the last two took 21 and 27 us a message at fleet shape, most of it
# their own read and decode of each batch (`bench/stages.py --devices 2000`).
WORKER_GROUPS: tuple[tuple[str, ...], ...] = (
    ("device_status", "telemetry", "alerting", "dashboard", "deployments", "ota"),
)

MODELS_BY_NAME = {model.name: model for model in READ_MODELS}


def open_read_model(app: FleetApplication, settings: Settings, name: str) -> tuple[Any, Any]:
    """The read model `name`'s view and reader on the configured store; the view creates its
    tables."""
    model = MODELS_BY_NAME[name]
    kept = settings.as_of_read_models  # `fleetwatch serve --as-of` (fleetwatch.as_of)
    if settings.store == "dynamodb":
        view_class, dynamodb_reader = model.dynamodb
        view = app.factory.tracking_recorder(view_class)
        if kept:
            view = view_class(datastore=kept_tables(view, kept, name))
        return view, dynamodb_reader(view.client, view.table_prefix)  # type: ignore[attr-defined]
    view_class, sqlite_reader = model.sqlite
    datastore = kept_file(app, kept, name) if kept else read_models_datastore(app, settings)
    view = view_class(datastore=datastore)
    assert isinstance(view, SQLiteTrackingRecorder)
    if settings.create_tables and not kept:
        view.create_table()
    return view, sqlite_reader(view.datastore)


def application_env(settings: Settings) -> dict[str, str]:
    """The `eventsourcing` environment that selects and configures the persistence module."""
    create = "y" if settings.create_tables else "n"
    kms = {"PERSONAL_KEYS_KMS_KEY": settings.personal_keys_kms_key or ""}
    if settings.store == "dynamodb":
        env = kms | {
            "PERSISTENCE_MODULE": "event_store.dynamodb",
            "DYNAMODB_REGION": settings.dynamodb_region,
            "DYNAMODB_TABLE_PREFIX": settings.dynamodb_table_prefix,
            "CREATE_TABLE": create,
        }
        if settings.dynamodb_endpoint_url:
            env["DYNAMODB_ENDPOINT_URL"] = settings.dynamodb_endpoint_url
        return env
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return kms | {
        "PERSISTENCE_MODULE": "event_store.sqlite",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "CREATE_TABLE": create,
        "SQLITE_FEED_WATCH": "y" if settings.sqlite_feed_watch else "n",
    }


def make_tables_made_on_first_use(app: FleetApplication, settings: Settings | None = None) -> None:
    """Make now the tables a system otherwise makes only when first used (the telemetry
    snapshots' table: `FleetApplication.telemetry_repository`; on DynamoDB, given `settings`,
    the WebSocket gateway's connections and subscriptions), so a store whose tables were all
    made beforehand (`fleetwatch dynamodb create-tables`, scripts/table_census.py, the CDK app)
    runs with FLEETWATCH_CREATE_TABLES=false. Needs CREATE_TABLE on."""
    _ = app.telemetry_repository
    if settings is not None and settings.store == "dynamodb":
        from fleetwatch.ws_gateway import gateway_store

        gateway_store(settings)


def build_fanout(settings: Settings) -> Fanout:
    if settings.ws_gateway_endpoint:
        from fleetwatch.ws_gateway import GatewayFanout

        return GatewayFanout(settings)
    if settings.redis_url:
        from read_side.fanout_redis import RedisFanout

        return RedisFanout(settings.redis_url)
    from read_side.fanout_memory import InProcessFanout

    return InProcessFanout()


_read_datastores: weakref.WeakKeyDictionary[FleetApplication, SQLiteDatastore] = (
    weakref.WeakKeyDictionary()
)


def read_models_datastore(app: FleetApplication, settings: Settings) -> SQLiteDatastore:
    """The SQLite file of `app`'s read models (`Settings.read_models_path`), one per app.

    The event store's file then has only writers of events (ingestion, commands, the alerting
    process manager): a telemetry commit never waits behind a projection's transaction, which
    can hold tens of thousands of rows. Each view commits its rows and its checkpoint in this
    file, in one transaction, as before."""
    datastore = _read_datastores.get(app)
    if datastore is None:
        path = settings.read_models_path
        path.parent.mkdir(parents=True, exist_ok=True)
        datastore = _read_datastores[app] = ReadModelsDatastore(str(path))
    return datastore


def close_read_models(app: FleetApplication) -> None:
    close_kept(app)
    datastore = _read_datastores.pop(app, None)
    if datastore is not None:
        datastore.close()
