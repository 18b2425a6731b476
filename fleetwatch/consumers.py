"""Builders of the feed's workers: one per read model (from its `fleetwatch.wiring` entry), the
alerting process manager, the notification pipeline (notifier, outbox, dispatcher), the OTA
schedule writer (timers and job notices), the OTA orchestrator and its timer loop and job
dispatcher, the Parquet writer of analytics."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import TrackingRecorder

from event_store.log import EventLog
from event_store.own_tables import own_tables_recorder
from event_store.state_snapshots import SQLiteStateSnapshots, StateSnapshots
from fleetwatch.settings import Settings
from fleetwatch.wiring import MODELS_BY_NAME
from ingestion.mqtt_session import MqttTls
from notifications.dispatcher import Dispatcher
from notifications.outbox import Outbox
from notifications.wiring import build_dispatcher, build_outbox, build_senders
from ota.s3 import s3_client
from ota.schedule import DeviceJobs, TimerStore
from ota.schedule_loops import Fire, JobDispatcher, Render, TimerLoop, Wakeup
from ota.schedule_rows import ScheduleStore
from ota.schedule_wiring import build_schedule_store
from projections.alerting import AlertingProcess
from projections.alerting_worker import AlertingWorker
from projections.batching import BatchingProjectionWorker
from projections.notifier import NotifierProjection, StoredAlerts
from projections.ota import OtaProcess
from projections.ota_worker import OtaWorker
from projections.parquet import ParquetProjection, ParquetWorker
from projections.runner import ProjectionWorker
from projections.schedule_writer import ScheduleWriter
from read_side.analytics import ParquetFiles
from read_side.analytics.s3_mirror import S3Mirror
from read_side.device_status import DeviceStatusReader
from read_side.notifications import ChangePublisher
from read_side.users import UsersReader
from write_side.application import FleetApplication
from write_side.deployment_service import DeploymentService
from write_side.deployment_states import Channel
from write_side.firmware_service import FirmwareService

log = logging.getLogger(__name__)
RECIPIENTS_TIMEOUT = 2.0  # seconds the notifier waits for the users model per batch


def build_read_model_worker(
    app: FleetApplication, name: str, view: Any, reader: Any, fanout: ChangePublisher
) -> BatchingProjectionWorker:
    """The worker that feeds the read model `name` (its view holds the checkpoint); it
    publishes the model's change notices to `fanout` when the model's entry says so."""
    model = MODELS_BY_NAME[name]
    return BatchingProjectionWorker(
        model.projection(view, reader),
        checkpoints=view,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        publisher=fanout if model.publishes else None,
    )


def build_alerting(app: FleetApplication, **worker_kwargs: Any) -> AlertingWorker:
    """The alerting process manager (its own checkpoint, committed with the alert events it
    records through a process recorder; its state snapshotted in the event store's database)."""
    process = AlertingProcess(
        app, app.factory.process_recorder(), snapshots=build_state_snapshots(app)
    )
    return AlertingWorker(
        process,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        **worker_kwargs,
    )


def build_state_snapshots(app: FleetApplication) -> StateSnapshots:
    """Where process managers keep their state across restarts: a table of the event store."""

    def on_dynamodb() -> type[TrackingRecorder]:
        from event_store.dynamodb.state_snapshots import DynamoDBStateSnapshots

        return DynamoDBStateSnapshots

    # Either class is a `StateSnapshots` (checked by the helper's isinstance)
    return cast(StateSnapshots, own_tables_recorder(app, SQLiteStateSnapshots, on_dynamodb))


@dataclass(frozen=True)
class Notifying:
    """The notification pipeline: the notifier's worker, its outbox, the dispatcher."""

    notifier: ProjectionWorker
    outbox: Outbox
    dispatcher: Dispatcher


def build_notifications(
    app: FleetApplication, settings: Settings, users: UsersReader, users_worker: ProjectionWorker
) -> Notifying:
    """Notifier (outbox rows + its checkpoint, recipients no older than the alert: it waits
    for `users_worker`, the users read model's) and the dispatcher with the senders settings
    name (default: log lines)."""
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
        mapper=app.envelope_mapper,
        upstream_name=app.name,
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
        notifier=notifier_worker,
        outbox=outbox,
        dispatcher=build_dispatcher(app, outbox, senders),
    )


def build_ota_schedule(
    app: FleetApplication, wakeup: Wakeup | None = None
) -> tuple[BatchingProjectionWorker, ScheduleStore]:
    """The schedule writer's worker (its checkpoint commits with its timer and notice rows;
    the timers stored are announced to `wakeup`) and the store the orchestrator's timer loop
    and the job dispatcher read."""
    store = build_schedule_store(app)
    assert isinstance(store, TrackingRecorder)  # its checkpoint commits with its rows
    log = EventLog(app.recorder, app.envelope_mapper)
    writer = ScheduleWriter(
        store, lambda stream, version: log.read_stream(stream, up_to_version=version), wakeup
    )
    worker = BatchingProjectionWorker(
        writer,
        max_batch=100,
        checkpoints=store,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
    )
    return worker, store


class JobPublisher(DeviceJobs, Protocol):
    """The job dispatcher's publisher, closed with the system."""

    def close(self) -> None: ...


class PolledJobs:
    """The `DeviceJobs` of a system without a broker: devices poll `GET jobs/next`, which
    answers the same document, so an `mqtt` notice left from a run with a broker is passed
    to polling instead of waiting for a publisher that is not there."""

    def publish(self, tenant_id: str, device_id: UUID, document: Mapping[str, object]) -> None:
        log.info("ota jobs: no MQTT publisher; device %s/%s polls", tenant_id, device_id)

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class OtaLoops:
    """The orchestrator's two loops, and the dispatcher's publisher (closed with the system)."""

    timers: TimerLoop
    jobs: JobDispatcher
    publisher: JobPublisher


def notice_channel(settings: Settings) -> Channel:
    """How the orchestrator's `Notified` tells devices, decided once from the settings: over
    MQTT where a broker or IoT Core takes job documents, else devices poll."""
    if settings.ota_mqtt_url is None and settings.ota_iot_endpoint is None:
        return "http"
    return "mqtt"


def job_publisher(settings: Settings, tls: MqttTls | None = None) -> JobPublisher:
    """`MqttDeviceJobs` to the broker of `FLEETWATCH_OTA_MQTT_URL`, `IotCoreDeviceJobs` through
    `FLEETWATCH_OTA_IOT_ENDPOINT`, or, with neither, `PolledJobs`. ValueError for both."""
    if settings.ota_mqtt_url is not None and settings.ota_iot_endpoint is not None:
        raise ValueError("set FLEETWATCH_OTA_MQTT_URL or FLEETWATCH_OTA_IOT_ENDPOINT, not both")
    if settings.ota_iot_endpoint is not None:
        from ota.iot_jobs import IotCoreDeviceJobs, IotDataClient

        data = IotDataClient(settings.ota_iot_endpoint, settings.dynamodb_region)
        return IotCoreDeviceJobs(data)
    if settings.ota_mqtt_url is None:
        return PolledJobs()
    from ota.mqtt_jobs import MqttDeviceJobs

    files = tls or MqttTls()
    return MqttDeviceJobs(
        settings.ota_mqtt_url,
        client_id=settings.ota_mqtt_client_id,
        ca_file=files.ca_file,
        cert_file=files.cert_file,
        key_file=files.key_file,
    )


def build_ota_loops(
    store: ScheduleStore,
    settings: Settings,
    fire: Fire,
    render: Render,
    wakeup: Wakeup | None = None,
    *,
    tls: MqttTls | None = None,
) -> OtaLoops:
    """The timer loop (firing into the orchestrator's `fire`, woken by the timers announced
    to `wakeup`) and the job dispatcher: it publishes `render`ed documents through the
    settings' `job_publisher`; without a broker every notice is `http` and marked for
    polling."""
    poll = settings.ota_poll_interval
    timers = TimerLoop(store, fire, poll_interval=poll, max_idle=settings.ota_timer_max_idle)
    if wakeup is not None:
        wakeup.listen(timers.notify)
    publisher = job_publisher(settings, tls)
    jobs = JobDispatcher(store, publisher, render, poll_interval=poll)
    return OtaLoops(timers, jobs, publisher)


def build_ota(
    app: FleetApplication,
    timers: TimerStore,
    deployments: DeploymentService | None = None,
    channel: Channel = "mqtt",
    **worker_kwargs: Any,
) -> OtaWorker:
    """The OTA orchestrator (docs/firmware.md 12.4): its own checkpoint on a process recorder,
    its `wake` timers in `timers`, devices told on `channel`; the timer loop fires into
    `worker.projection.fire`."""
    service = deployments or DeploymentService(app, FirmwareService(app))
    process = OtaProcess(service, app.factory.process_recorder(), timers, channel=channel)
    return OtaWorker(
        process,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        **worker_kwargs,
    )


def analytics_mirror(settings: Settings) -> S3Mirror | None:
    """The S3 copy of the Parquet files, when `analytics_bucket` is set (analytics.md 20.2)."""
    if not settings.analytics_bucket:
        return None
    client = s3_client(settings.dynamodb_region, settings.blob_endpoint_url)
    return S3Mirror(client, settings.analytics_bucket, settings.analytics_prefix)


def build_parquet(
    app: FleetApplication, settings: Settings, devices: DeviceStatusReader
) -> ParquetWorker:
    """The Parquet writer (docs/analytics.md 20.2): files under `settings.analytics_path`, its
    checkpoint in a tracking table of the event store (either store), device types from the
    device-status model."""

    def device_types(tenant_id: str, ids: Sequence[UUID]) -> dict[UUID, str]:
        return {i: s.device_type for i, s in devices.get_many(tenant_id, ids).items()}

    checkpoints = app.factory.tracking_recorder()
    projection = ParquetProjection(
        ParquetFiles(settings.analytics_path, analytics_mirror(settings)),
        checkpoints,
        device_types,
        flush_readings=settings.analytics_flush_readings,
        flush_seconds=settings.analytics_flush_seconds,
    )
    return ParquetWorker(
        projection,
        checkpoints=checkpoints,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
    )
