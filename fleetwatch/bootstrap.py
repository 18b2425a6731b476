"""The composition root: builds the whole system from settings. Nothing else wires adapters.

Embedded default: the SQLite event store and read models in one file, in-process fan-out.
Production: `store="dynamodb"` (event store and read models on DynamoDB) and `REDIS_URL` for
fan-out across API processes.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore

from event_store.log import EventLog
from event_store.sqlite import ReadModelsDatastore, SQLiteTrackingRecorder
from fleetwatch.settings import Settings
from ingestion.buffer import IngestService
from ingestion.settings import IngestSettings
from notifications.dispatcher import Dispatcher
from notifications.outbox import Outbox
from notifications.wiring import build_dispatcher, build_outbox, build_senders
from projections.alert_views import AlertsProjection, AlertsView
from projections.alerting import AlertingProcess, AlertingWorker
from projections.batching import BatchingProjectionWorker
from projections.device_status import DeviceStatusProjection, DeviceStatusView
from projections.group import WorkerGroup
from projections.notifier import NotifierProjection, StoredAlerts
from projections.runner import ProjectionWorker
from projections.telemetry import BATCH_TOPIC, TelemetryProjection
from projections.users import UsersProjection, UsersView
from projections.views.alerts_dynamodb import DynamoDBAlertsView
from projections.views.alerts_sqlite import SQLiteAlertsView
from projections.views.dynamodb import DynamoDBDeviceStatusView
from projections.views.sqlite import SQLiteDeviceStatusView
from projections.views.telemetry_dynamodb import DynamoDBTelemetryView
from projections.views.telemetry_sqlite import SQLiteTelemetryView
from projections.views.users_dynamodb import DynamoDBUsersView
from projections.views.users_sqlite import SQLiteUsersView
from read_side.alerts import AlertReader
from read_side.alerts_dynamodb import DynamoDBAlertReader
from read_side.alerts_sqlite import SQLiteAlertReader
from read_side.device_status import DeviceStatusReader
from read_side.dynamodb import DynamoDBDeviceStatusReader
from read_side.notifications import Fanout
from read_side.sqlite import SQLiteDeviceStatusReader
from read_side.telemetry import TelemetryReader
from read_side.telemetry_dynamodb import DynamoDBTelemetryReader
from read_side.telemetry_sqlite import SQLiteTelemetryReader
from read_side.users import UsersReader
from read_side.users_dynamodb import DynamoDBUsersReader
from read_side.users_sqlite import SQLiteUsersReader
from write_side.application import FleetApplication
from write_side.credentials import DeviceDirectory
from write_side.ingestion import RawHistory, TelemetryIngestion

if TYPE_CHECKING:
    from ingestion.mqtt import MqttIngestor

R = TypeVar("R")
PROJECTIONS = ("device_status", "telemetry", "alerts", "alerting", "users")
RECIPIENTS_TIMEOUT = 2.0  # seconds the notifier waits for the users model per batch


class ResettableView(Protocol):
    """What `System.rebuild` needs of a projection's view."""

    def reset(self, application_name: str) -> None: ...


@dataclass
class System:
    settings: Settings
    app: FleetApplication
    devices: DeviceStatusReader
    event_log: EventLog
    fanout: Fanout
    telemetry: TelemetryReader  # raw readings and rollups (issue 4)
    alerts: AlertReader  # alert rules, alerts, alert timeline (issue 4)
    workers: dict[str, ProjectionWorker] = field(default_factory=dict)
    views: dict[str, ResettableView] = field(default_factory=dict)
    ingest: IngestService | None = None  # the telemetry command path (issue 4)
    mqtt: MqttIngestor | None = None  # set when FLEETWATCH_MQTT_URL is
    users: UsersReader | None = None  # the users read model (issue 4)
    outbox: Outbox | None = None  # queued notifications, written by the notifier (issue 4)
    dispatcher: Dispatcher | None = None  # delivers the outbox; runs with the workers
    # Workers (by name) that share one thread, one read and one decode of the feed
    # (projections.group); `groups`: those started in this process
    worker_groups: list[tuple[str, ...]] = field(default_factory=list)
    groups: list[WorkerGroup] = field(default_factory=list)
    _started: bool = False
    _running: set[str] = field(default_factory=set)  # the workers started in this process

    def start(self) -> None:
        """Start the projection workers (threads), unless settings say another process runs them
        (all of them, or those not in `FLEETWATCH_PROJECTIONS`); and the ingestion flusher (plus
        the MQTT subscriber when configured)."""
        if self.settings.run_projections and not self._started:
            self._running = set(self.settings.projection_names or self.workers)
            unknown = self._running - set(self.workers)
            if unknown:
                known = ", ".join(self.workers)
                raise ValueError(f"unknown projections {sorted(unknown)}; known: {known}")
            for names in self.worker_groups:
                members = [_batching(self.workers[n]) for n in names if n in self._running]
                if members:
                    self.groups.append(WorkerGroup(members))
                    self.groups[-1].start()
            grouped = {name for names in self.worker_groups for name in names}
            for name, worker in self.workers.items():
                if name in self._running and name not in grouped:
                    worker.start()
            if self.dispatcher is not None and "notifier" in self._running:
                self.dispatcher.start(self.settings.notify_poll_interval)
            self._started = True
        if self.ingest is not None:
            self._pace_ingestion(self.ingest)
            self.ingest.start()
        if self.mqtt is not None:
            self.mqtt.start()

    def _pace_ingestion(self, ingest: IngestService) -> None:
        """Let ingestion wait for the workers that apply telemetry batches when they fall
        behind (`ingestion.buffer`, pacing): those of this process by their positions in
        memory, those of other processes by their checkpoints (a batch moves them all)."""
        paced = [(n, w) for n, w in self.workers.items() if w.projection.handles(BATCH_TOPIC)]
        if not paced:
            return
        here = [w for n, w in paced if n in self._running]
        elsewhere = [w for n, w in paced if n not in self._running]

        def applied() -> list[int]:
            return [w.position for w in here] + [w.checkpoint() for w in elsewhere]

        ingest.pace_with(applied, poll=0.05 if elsewhere else 0.01)

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Block until every read model has applied the feed up to `position` (read-your-writes)."""
        if position <= 0:
            return True
        deadline = time.monotonic() + timeout
        topics: list[str] | None = None
        for name, worker in self.workers.items():
            remaining = max(0.0, deadline - time.monotonic())
            if name in self._running:  # in-memory positions move past skipped events too
                if not worker.wait_for(position, remaining):
                    return False
                continue
            # Run by another process: its checkpoint only moves on events it handles, so wait
            # only when it handles the event at `position`.
            if topics is None:
                topics = [n.topic for n in self.app.recorder.select_notifications(position, 1)]
            if topics and not worker.projection.handles(topics[0]):
                continue
            if not _poll_checkpoint(worker, position, remaining):
                return False
        return True

    def rebuild(self, name: str, progress: Any = None) -> int:
        """Drop the read model `name` and rebuild it from position zero; returns events read."""
        worker = self.workers[name]
        self.views[name].reset(worker.tracking_name)
        worker._position = 0
        return worker.catch_up(progress)

    def close(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.ingest is not None:
            self.ingest.close()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for group in self.groups:
            group.stop()
        for worker in self.workers.values():
            worker.stop()
        self.fanout.close()
        close_read_models(self.app)
        self.app.close()


def _batching(worker: ProjectionWorker) -> BatchingProjectionWorker:
    if not isinstance(worker, BatchingProjectionWorker):
        raise TypeError(f"{worker.tracking_name}: a worker group takes batching workers only")
    return worker


def _poll_checkpoint(worker: ProjectionWorker, position: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while worker.checkpoint() < position:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def application_env(settings: Settings) -> dict[str, str]:
    """The `eventsourcing` environment that selects and configures the persistence module."""
    create = "y" if settings.create_tables else "n"
    if settings.store == "dynamodb":
        env = {
            "PERSISTENCE_MODULE": "event_store.dynamodb",
            "DYNAMODB_REGION": settings.dynamodb_region,
            "DYNAMODB_TABLE_PREFIX": settings.dynamodb_table_prefix,
            "CREATE_TABLE": create,
        }
        if settings.dynamodb_endpoint_url:
            env["DYNAMODB_ENDPOINT_URL"] = settings.dynamodb_endpoint_url
        return env
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "event_store.sqlite",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "CREATE_TABLE": create,
    }


def build_fanout(settings: Settings) -> Fanout:
    if settings.redis_url:
        from read_side.fanout_redis import RedisFanout

        return RedisFanout(settings.redis_url)
    from read_side.fanout_memory import InProcessFanout

    return InProcessFanout()


def _read_model(
    app: FleetApplication,
    settings: Settings,
    sqlite: tuple[type[Any], Callable[[SQLiteDatastore], R]],
    dynamodb: tuple[type[Any], Callable[[Any, str], R]],
) -> tuple[Any, R]:
    """A read model's view (its writer, which holds its checkpoint) and its reader, on the
    configured store; the view creates its tables."""
    if settings.store == "dynamodb":
        view_class, dynamodb_reader = dynamodb
        view = app.factory.tracking_recorder(view_class)
        return view, dynamodb_reader(view.client, view.table_prefix)  # type: ignore[attr-defined]
    view_class, sqlite_reader = sqlite
    view = view_class(datastore=read_models_datastore(app, settings))
    assert isinstance(view, SQLiteTrackingRecorder)
    if settings.create_tables:
        view.create_table()
    return view, sqlite_reader(view.datastore)


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
    datastore = _read_datastores.pop(app, None)
    if datastore is not None:
        datastore.close()


def _device_status_store(
    app: FleetApplication, settings: Settings
) -> tuple[DeviceStatusView, DeviceStatusReader]:
    return _read_model(
        app,
        settings,
        (SQLiteDeviceStatusView, SQLiteDeviceStatusReader),
        (DynamoDBDeviceStatusView, DynamoDBDeviceStatusReader),
    )


def _telemetry_store(app: FleetApplication, settings: Settings) -> tuple[Any, TelemetryReader]:
    return _read_model(
        app,
        settings,
        (SQLiteTelemetryView, SQLiteTelemetryReader),
        (DynamoDBTelemetryView, DynamoDBTelemetryReader),
    )


def _alerts_store(app: FleetApplication, settings: Settings) -> tuple[AlertsView, AlertReader]:
    return _read_model(
        app,
        settings,
        (SQLiteAlertsView, SQLiteAlertReader),
        (DynamoDBAlertsView, DynamoDBAlertReader),
    )


def build_alerting(app: FleetApplication, **worker_kwargs: Any) -> AlertingWorker:
    """The alerting process manager (its own checkpoint, committed with the alert events it
    records through a process recorder)."""
    process = AlertingProcess(app, app.factory.process_recorder())
    return AlertingWorker(
        process,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        **worker_kwargs,
    )


@dataclass(frozen=True)
class Notifying:
    """The users read model and the notification pipeline: notifier, outbox, dispatcher."""

    users: UsersReader
    workers: dict[str, ProjectionWorker]  # "users", "notifier"
    views: dict[str, ResettableView]  # "users" (the notifier's outbox is not rebuildable)
    outbox: Outbox
    dispatcher: Dispatcher


def _users_store(app: FleetApplication, settings: Settings) -> tuple[UsersView, UsersReader]:
    return _read_model(
        app,
        settings,
        (SQLiteUsersView, SQLiteUsersReader),
        (DynamoDBUsersView, DynamoDBUsersReader),
    )


def build_notifications(app: FleetApplication, settings: Settings) -> Notifying:
    """Users projection, notifier (outbox rows + its checkpoint, recipients no older than the
    alert) and the dispatcher with the senders settings name (default: log lines)."""
    mapper, name = app.envelope_mapper, app.name
    users_view, users = _users_store(app, settings)
    users_worker = BatchingProjectionWorker(
        UsersProjection(users_view, users),
        checkpoints=users_view,
        recorder=app.recorder,
        mapper=mapper,
        upstream_name=name,
    )
    outbox = build_outbox(app)
    assert isinstance(outbox, TrackingRecorder)  # its checkpoint commits with its rows
    notifier = NotifierProjection(
        outbox,
        users,
        StoredAlerts(app),
        recipients_ready=lambda position: users_worker.wait_for(position, RECIPIENTS_TIMEOUT),
    )
    notifier_worker = BatchingProjectionWorker(
        notifier,
        max_batch=100,
        checkpoints=outbox,
        recorder=app.recorder,
        mapper=mapper,
        upstream_name=name,
    )
    senders = build_senders(
        settings.notify_sender_names,
        region=settings.notify_region or settings.dynamodb_region,
        ses_from=settings.ses_from,
        fcm_project_id=settings.fcm_project_id,
        fcm_credentials_file=settings.fcm_credentials_file,
        endpoint_url=settings.notify_endpoint_url,
    )
    return Notifying(
        users=users,
        workers={"users": users_worker, "notifier": notifier_worker},
        views={"users": users_view},
        outbox=outbox,
        dispatcher=build_dispatcher(app, outbox, senders),
    )


def build_ingestion(
    app: FleetApplication,
    settings: Settings,
    ingest: IngestSettings,
    history: RawHistory | None = None,
) -> tuple[IngestService, MqttIngestor | None]:
    """The telemetry handler behind its bounded buffer, and the MQTT subscriber if configured.
    `history`: the telemetry read model's raw history, asked about late redeliveries only."""
    dynamodb = settings.store == "dynamodb"
    handler = TelemetryIngestion(
        app,
        DeviceDirectory(app.device_access),
        heartbeat_timeout_s=ingest.heartbeat_timeout,
        max_streams_per_call=40 if dynamodb else 500,  # DynamoDB: 100 actions per transaction
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
    )
    return service, mqtt


def build_system(
    settings: Settings | None = None, ingest_settings: IngestSettings | None = None
) -> System:
    settings = settings or Settings()
    app = FleetApplication(env=application_env(settings))
    view, reader = _device_status_store(app, settings)
    fanout = build_fanout(settings)
    mapper = app.envelope_mapper
    telemetry_view, telemetry_reader = _telemetry_store(app, settings)
    ingest, mqtt = build_ingestion(
        app, settings, ingest_settings or IngestSettings(), history=telemetry_reader
    )
    worker = BatchingProjectionWorker(
        DeviceStatusProjection(view, reader),
        checkpoints=view,
        recorder=app.recorder,
        mapper=mapper,
        upstream_name=app.name,
        publisher=fanout,
    )
    telemetry_worker = BatchingProjectionWorker(
        TelemetryProjection(telemetry_view),
        checkpoints=telemetry_view,
        recorder=app.recorder,
        mapper=mapper,
        upstream_name=app.name,
        publisher=fanout,
    )
    alerts_view, alerts_reader = _alerts_store(app, settings)
    alerts_worker = BatchingProjectionWorker(
        AlertsProjection(alerts_view, alerts_reader),
        checkpoints=alerts_view,
        recorder=app.recorder,
        mapper=mapper,
        upstream_name=app.name,
        publisher=fanout,
    )
    alerting = build_alerting(app)
    notifying = build_notifications(app, settings)
    return System(
        settings=settings,
        app=app,
        devices=reader,
        event_log=EventLog(app.recorder, mapper),
        fanout=fanout,
        telemetry=telemetry_reader,
        alerts=alerts_reader,
        workers={
            "device_status": worker,
            "telemetry": telemetry_worker,
            "alerts": alerts_worker,
            "alerting": alerting,
            **notifying.workers,
        },
        views={
            "device_status": view,
            "telemetry": telemetry_view,
            "alerts": alerts_view,
            "alerting": alerting.projection,
            **notifying.views,
        },
        ingest=ingest,
        mqtt=mqtt,
        worker_groups=[("device_status", "telemetry", "alerting")],
        users=notifying.users,
        outbox=notifying.outbox,
        dispatcher=notifying.dispatcher,
    )
