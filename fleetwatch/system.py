"""The composition root: builds the whole system from settings. Nothing else wires adapters.

Embedded default: the SQLite event store and read models, in-process fan-out. Production:
`store="dynamodb"` (events and read models on DynamoDB), `REDIS_URL` for fan-out across APIs.

`build_system` builds from the lists in `fleetwatch.wiring`; the `System` it returns is what
the API is given (it implements `api.ports.FleetSystem`) and what the entry points start and
close; running the workers is the `Supervisor`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from event_store.log import EventLog
from fleetwatch.as_of import read_only
from fleetwatch.consumers import (
    JobPublisher,
    build_alerting,
    build_notifications,
    build_ota,
    build_ota_loops,
    build_ota_schedule,
    build_parquet,
    build_read_model_worker,
    notice_channel,
)
from fleetwatch.lease_keeper import LeaseTerms, process_owner
from fleetwatch.ledger import build_ledger, close_ledger, open_ledger
from fleetwatch.settings import Settings
from fleetwatch.supervisor import ResettableView, Supervisor
from fleetwatch.system_exports import Exports, build_exports
from fleetwatch.system_ingestion import build_ingestion
from fleetwatch.system_ota import build_ota_services, build_upload_sweeper
from fleetwatch.wiring import (
    READ_MODELS,
    UNAWAITED,
    WORKER_GROUPS,
    WORKERS,
    application_env,
    build_fanout,
    close_read_models,
    open_read_model,
)
from fleetwatch.worker_units import Loop
from ingestion.buffer import IngestService
from ingestion.device_jobs import DeviceJobService
from ingestion.settings import IngestSettings
from notifications.dispatcher import Dispatcher
from notifications.outbox import Outbox
from ota.job_document import JobDocuments
from ota.port import BlobStore
from ota.schedule_loops import AnnouncedTimers, JobDispatcher, TimerLoop, Wakeup
from ota.schedule_rows import ScheduleStore
from ota.upload_expiry import fire_timers
from projections.connectivity import ConnectivityWatch, own_timeouts
from projections.group import WorkerGroup
from projections.ledger_worker import LedgerWorker
from projections.runner import ProjectionWorker
from read_side.alerts import AlertReader
from read_side.analytics import AnalyticsService, ParquetFiles
from read_side.dashboard import DashboardReader
from read_side.deployments import DeploymentsReader
from read_side.device_status import DeviceStatusReader
from read_side.firmware import FirmwareReader
from read_side.notifications import Fanout
from read_side.telemetry import TelemetryReader
from read_side.users import UsersReader
from write_side.alert_service import AlertService
from write_side.application import FleetApplication
from write_side.audit_service import AuditService
from write_side.credentials import DeviceDirectory
from write_side.deployment_service import DeploymentService
from write_side.device_service import DeviceService
from write_side.firmware_service import FirmwareService
from write_side.user_service import UserService

if TYPE_CHECKING:
    from ingestion.jobs_mqtt import JobUpdatesSubscriber
    from ingestion.mqtt import MqttIngestor


@dataclass
class System:
    settings: Settings
    app: FleetApplication
    device_service: DeviceService  # the command handlers, one service per slice
    alert_service: AlertService
    user_service: UserService
    firmware_service: FirmwareService  # OTA (docs/firmware.md section 12)
    deployment_service: DeploymentService
    audit_service: AuditService  # as-of reads, the record of reads (docs/audit.md 19.2)
    blobs: BlobStore  # firmware images (FLEETWATCH_BLOB_STORE)
    devices: DeviceStatusReader
    event_log: EventLog
    fanout: Fanout
    telemetry: TelemetryReader  # raw readings and rollups (issue 4)
    alerts: AlertReader  # alert rules, alerts, alert timeline (issue 4)
    supervisor: Supervisor  # runs the workers: start, pacing, wait_for, rebuild, stop
    ingest: IngestService | None = None  # the telemetry command path (issue 4)
    mqtt: MqttIngestor | None = None  # set when FLEETWATCH_MQTT_URL is
    users: UsersReader | None = None  # the users read model (issue 4)
    outbox: Outbox | None = None  # queued notifications, written by the notifier (issue 4)
    job_documents: JobDocuments | None = None  # what devices are told (12.5; the outbox's)
    device_jobs: DeviceJobService | None = None  # the device routes of 12.5
    jobs_mqtt: JobUpdatesSubscriber | None = None  # job updates over MQTT, with `mqtt`
    ota_schedule: ScheduleStore | None = None  # OTA timers and job notices (firmware.md 12.4)
    # Offline detection with the consumers, ingestion or not (issue 14): where the
    # device-status model is built.
    connectivity: ConnectivityWatch | None = None
    ota_timers: TimerLoop | None = None  # fires due rows into the orchestrator, where it runs
    ota_jobs: JobDispatcher | None = None  # tells devices of their jobs, where `ota` runs
    ota_publisher: JobPublisher | None = None  # the job dispatcher's
    firmware: FirmwareReader | None = None  # releases, signing keys (docs/firmware.md 12.7)
    deployments: DeploymentsReader | None = None  # deployments, executions, compliance (12.7)
    ledger: LedgerWorker | None = None  # hash chains, Merkle logs, checkpoints (audit.md 19.4)
    dashboard: DashboardReader | None = None  # the analytics dashboard (analytics.md 20.1)
    analytics: AnalyticsService | None = None  # POST /analytics/query (docs/analytics.md 20.3)
    exports: Exports | None = None  # POST /analytics/export (docs/analytics.md 20.5)

    @property
    def workers(self) -> dict[str, ProjectionWorker]:
        return self.supervisor.workers

    @property
    def views(self) -> dict[str, ResettableView]:
        return self.supervisor.views

    @property
    def worker_groups(self) -> list[tuple[str, ...]]:
        return self.supervisor.worker_groups

    @property
    def groups(self) -> list[WorkerGroup]:
        return self.supervisor.groups

    @property
    def dispatcher(self) -> Dispatcher | None:
        return self.supervisor.dispatcher

    def start(self) -> None:
        """Start the projection workers (threads), unless settings say another process runs them
        (all, or those not in `FLEETWATCH_PROJECTIONS`) or this one serves kept read models; and
        the ingestion flusher (plus the MQTT subscriber when configured)."""
        if self.settings.run_projections and not self.settings.as_of_read_models:
            self.supervisor.start(
                self.settings.projection_names, self.settings.notify_poll_interval
            )
        if self.ingest is not None:
            self.supervisor.pace(self.ingest)
            self.ingest.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.jobs_mqtt is not None:
            self.jobs_mqtt.start()

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Block until every read model has applied the feed up to `position` (read-your-writes)."""
        return self.supervisor.wait_for(position, timeout)

    def positions(self) -> dict[str, int]:
        return self.supervisor.positions()

    def position(self, name: str) -> int:
        return self.supervisor.position(name)

    def rebuild(self, name: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the read model `name` and rebuild it from position zero; returns events read."""
        return self.supervisor.rebuild(name, progress)

    def close(self) -> None:
        """Inputs first, then ingestion's last flush (paced by workers still running), then
        the workers and the loops beside them (their leases released), then what they use."""
        if self.jobs_mqtt is not None:
            self.jobs_mqtt.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.ingest is not None:
            self.ingest.close()
        self.supervisor.stop()
        if self.ota_publisher is not None:
            self.ota_publisher.close()  # after the job dispatcher that publishes through it
        self.fanout.close()
        close_read_models(self.app)
        close_ledger(self.app)
        self.app.close()


def build_system(
    settings: Settings | None = None, ingest_settings: IngestSettings | None = None
) -> System:
    settings = settings or Settings()
    app = FleetApplication(env=application_env(settings))
    read_only(app, settings.as_of_read_models)  # `serve --as-of`: None, or nothing recorded
    ingest_settings = ingest_settings or IngestSettings()
    device_service = DeviceService(app)
    directory = DeviceDirectory(device_service.access)  # one cache: a revoke is seen alike
    ota_services = build_ota_services(app, settings, ingest_settings, directory)
    fanout = build_fanout(settings)
    models = {model.name: open_read_model(app, settings, model.name) for model in READ_MODELS}
    readers = {name: reader for name, (_view, reader) in models.items()}
    telemetry = readers["telemetry"]
    ingest, mqtt = build_ingestion(app, settings, ingest_settings, directory, history=telemetry)
    workers: dict[str, ProjectionWorker] = {
        name: build_read_model_worker(app, name, view, reader, fanout)
        for name, (view, reader) in models.items()
    }
    views: dict[str, ResettableView] = {name: view for name, (view, _reader) in models.items()}
    alerting = workers["alerting"] = build_alerting(
        app, snapshot_interval=settings.alerting_snapshot_interval
    )
    notifying = build_notifications(app, settings, readers["users"], workers["users"])
    workers["notifier"] = notifying.notifier
    wakeup = Wakeup()  # timers stored in this process wake its timer loop
    workers["ota_schedule"], ota_schedule = build_ota_schedule(app, wakeup)
    channel = notice_channel(settings)  # http without a publisher: devices poll jobs/next
    timers = AnnouncedTimers(ota_schedule, wakeup)
    ota = workers["ota"] = build_ota(app, timers, ota_services.deployment_service, channel=channel)
    ledger = workers["ledger"] = build_ledger(app, settings, open_ledger(app, settings))
    render = ota_services.documents.render_notice
    sweeper = build_upload_sweeper(ota_services, readers["firmware"], timers)
    fire = fire_timers(sweeper.fire, ota.projection.fire)  # unconfirmed uploads, deployments
    ota_loops = build_ota_loops(
        ota_schedule, settings, fire, render, wakeup, tls=ingest_settings.mqtt_tls()
    )
    parquet = workers["parquet"] = build_parquet(app, settings, readers["device_status"])
    views |= {"alerting": alerting.projection, "parquet": parquet.projection}  # rebuildable too
    exports = build_exports(
        app, settings, readers["device_status"], ota_services.blobs, readers["exports"],
        reports=(readers["alerts"], readers["firmware"]),
    )  # fmt: skip
    workers["exporter"] = exports.worker
    files = ParquetFiles(settings.analytics_path)
    connectivity = ConnectivityWatch(
        app,
        ingest_settings.heartbeat_timeout,
        interval=ingest_settings.heartbeat_interval,
        timeout_of=own_timeouts(directory.lookup),  # the cache ingestion fills
    )
    ota_companions: list[Loop] = [ota_loops.timers, ota_loops.jobs]
    supervisor = Supervisor(
        feed=app.recorder,
        workers={name: workers[name] for name in WORKERS},
        views=views,
        worker_groups=list(WORKER_GROUPS),
        dispatcher=notifying.dispatcher,
        unawaited=frozenset(UNAWAITED),
        # offline detection with the model that shows it; the OTA timers with the orchestrator
        companions={"device_status": [connectivity], "ota": ota_companions},
        lease_terms=lease_terms(settings),
    )
    return System(
        settings=settings,
        app=app,
        device_service=device_service,
        alert_service=AlertService(app),
        user_service=UserService(app),
        firmware_service=ota_services.firmware_service,
        deployment_service=ota_services.deployment_service,
        audit_service=AuditService(app),
        blobs=ota_services.blobs,
        devices=readers["device_status"],
        event_log=EventLog(app.recorder, app.envelope_mapper),
        fanout=fanout,
        telemetry=readers["telemetry"],
        alerts=readers["alerts"],
        supervisor=supervisor,
        ingest=ingest,
        mqtt=mqtt,
        users=readers["users"],
        outbox=notifying.outbox,
        job_documents=ota_services.documents,
        device_jobs=ota_services.device_jobs,
        jobs_mqtt=ota_services.jobs_mqtt,
        ota_schedule=ota_schedule,
        connectivity=connectivity,
        ota_timers=ota_loops.timers,
        ota_jobs=ota_loops.jobs,
        ota_publisher=ota_loops.publisher,
        firmware=readers["firmware"],
        deployments=readers["deployments"],
        ledger=ledger,
        dashboard=readers["dashboard"],
        analytics=AnalyticsService(readers["device_status"], readers["telemetry"], files),
        exports=exports,
    )


def lease_terms(settings: Settings) -> LeaseTerms | None:
    """This process's worker leases (None when `worker_leases` is off)."""
    if not settings.worker_leases:
        return None
    owner = settings.instance_id or process_owner()
    return LeaseTerms(owner, ttl=settings.lease_ttl, interval=settings.lease_interval)
