"""Builders of the feed's workers: one per read model (from its `fleetwatch.wiring` entry), the
alerting process manager, and the notification pipeline (notifier, outbox, dispatcher)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import TrackingRecorder

from fleetwatch.settings import Settings
from fleetwatch.wiring import MODELS_BY_NAME
from notifications.dispatcher import Dispatcher
from notifications.outbox import Outbox
from notifications.wiring import build_dispatcher, build_outbox, build_senders
from ota.schedule import Timer, TimerStore
from projections.alerting import AlertingProcess
from projections.alerting_worker import AlertingWorker
from projections.batching import BatchingProjectionWorker
from projections.notifier import NotifierProjection, StoredAlerts
from projections.ota import OtaProcess
from projections.ota_worker import OtaWorker
from projections.runner import ProjectionWorker
from read_side.notifications import ChangePublisher
from read_side.users import UsersReader
from write_side.application import FleetApplication
from write_side.deployment_service import DeploymentService
from write_side.firmware_service import FirmwareService

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


def build_ota(app: FleetApplication, timers: TimerStore, **worker_kwargs: Any) -> OtaWorker:
    """The OTA orchestrator (docs/firmware.md 12.4): its own checkpoint on a process recorder,
    its `wake` timers in `timers`; the timer loop calls `worker.projection.fire`."""
    service = DeploymentService(app, FirmwareService(app))
    process = OtaProcess(service, app.factory.process_recorder(), timers)
    return OtaWorker(
        process,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
        **worker_kwargs,
    )


class UnwiredTimers:
    """A `TimerStore` keeping rows in memory until the schedule store (`ota/schedule_*`) is
    wired in its place: nothing fires these rows yet, and they do not survive a restart."""

    def __init__(self) -> None:
        self.rows: dict[str, Timer] = {}

    def schedule(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.rows.setdefault(timer.key, timer)

    def due(self, now: datetime, limit: int) -> list[Timer]:
        return sorted(t for t in self.rows.values() if t.due_at <= now)[:limit]

    def done(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.rows.pop(timer.key, None)
