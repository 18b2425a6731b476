"""The OTA orchestrator: the process manager of docs/firmware.md section 12.4.

It follows `Deployment.*`, `DeploymentExecution.*`, `Firmware.UploadRequested/Withdrawn`,
`Device.*`, `Alert.Raised` and `Telemetry.BatchRecorded` (reported versions, the health gate's
metric), keeps what they say in `OtaState`, and after each batch reconciles every deployment
the batch touched (`OtaSteps.reconcile`) through the write side's orchestration commands
(actor `system:ota`, causation the triggering event's id). A version reported in telemetry is
also applied to the device's active execution (`DeploymentService.observe_version`).

At least once, idempotent: each command commits on its own (load-decide-commit) and records
nothing when its effect is recorded already, and the checkpoint follows the batch, so a crash
between them replays the batch and decides nothing new. The orchestrator learns from its own
commits at once by reading the feed past what it applied (`learn`); the positions it learned
are not applied again when the worker reaches them (they are still reconciled).

Timers: `fire(timers, now)` (called by the timer loop with the due rows) reconciles each
timer's deployment at `now`; stalls and retries due are found from the executions' recorded
deadlines. Its own wake-ups (a closed window, the rate limit, a soak, a start time) are `wake`
timers on the deployment's stream, scheduled through the `TimerStore`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, ProcessRecorder, Tracking

from event_store.envelope import EnvelopeMapper, EventEnvelope, EventMetadata
from event_store.tracking import AlreadyTracked, delete_tracking
from ota.schedule import UPLOAD_EXPIRY, Timer, TimerStore
from projections.ota_decisions import joined_by_version
from projections.ota_state import DeploymentFacts, OtaState
from projections.ota_steps import OtaSteps
from read_side.notifications import ChangeNotice
from write_side.alerts import ALERT_RAISED
from write_side.application import FleetApplication
from write_side.deployment_commands import ObserveVersion
from write_side.deployment_executions import EXECUTION_EVENTS, DeploymentExecution
from write_side.deployment_orchestration import DeploymentOrchestration
from write_side.deployment_service import DeploymentService
from write_side.deployment_states import FINISHED, Channel, DeploymentStatus, ExecutionState
from write_side.deployments import DEPLOYMENT_EVENTS, Deployment
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.errors import DomainError
from write_side.event_names import type_prefix
from write_side.firmware import FIRMWARE_UPLOAD_REQUESTED, FIRMWARE_WITHDRAWN
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

ACTOR = "system:ota"
log = logging.getLogger(__name__)
OWN_TOPICS = tuple(n.topic for n in (*DEPLOYMENT_EVENTS, *EXECUTION_EVENTS))
DEVICE_TOPICS = tuple(n.topic for n in (DEVICE_REGISTERED, DEVICE_UPDATED, DEVICE_DECOMMISSIONED))
TOPICS = (
    *OWN_TOPICS,
    *DEVICE_TOPICS,
    ALERT_RAISED.topic,
    FIRMWARE_UPLOAD_REQUESTED.topic,
    FIRMWARE_WITHDRAWN.topic,
    TELEMETRY_BATCH_RECORDED.topic,
)
_HANDLED = frozenset(TOPICS)
_DEPLOYMENT, _EXECUTION = type_prefix(Deployment), type_prefix(DeploymentExecution)
PAGE = 1000


class OtaProcess(OtaSteps):
    """A `BatchProjection` for the worker, and the timers' `fire`."""

    name = "ota"
    topics = TOPICS

    def __init__(
        self,
        service: DeploymentService,
        recorder: ProcessRecorder,
        timers: TimerStore,
        *,
        channel: Channel = "mqtt",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app: FleetApplication = service.app
        self.service = service
        self.recorder = recorder
        self.timers = timers
        self.channel = channel
        self.clock = clock or (lambda: datetime.now(UTC))
        self.commands = DeploymentOrchestration(service.app)
        self.state = OtaState()
        self.learned: set[int] = set()  # positions applied ahead of the worker
        self.learned_to = 0
        self.wakes: dict[UUID, datetime] = {}  # the earliest wake scheduled per deployment
        self.built_to: int | None = None
        self._feed: ApplicationRecorder = service.app.recorder
        self._mapper = service.app.envelope_mapper
        self.lock = threading.RLock()

    # The worker's interface ---------------------------------------------------------------------

    def handles(self, topic: str) -> bool:
        return topic in _HANDLED

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        with self.lock:
            touched: dict[UUID, EventMetadata] = {}
            for envelope in envelopes:
                if envelope.position in self.learned:
                    self.learned.discard(envelope.position)
                else:
                    self.state.apply(envelope)
                meta = EventMetadata(
                    envelope.tenant_id, ACTOR, envelope.correlation_id, str(envelope.event_id)
                )
                for deployment_id in self._touched(envelope, meta):
                    touched[deployment_id] = meta
            self.learned_to = max(self.learned_to, envelopes[-1].position or 0)
            now = self.clock()
            for deployment_id, meta in touched.items():
                self._reconcile(deployment_id, now, meta)
            self.record_position(tracking)
        return []

    def record_position(self, tracking: Tracking) -> None:
        with self.lock, contextlib.suppress(AlreadyTracked, IntegrityError):
            if tracking.notification_id > (
                self.recorder.max_tracking_id(tracking.application_name) or 0
            ):
                self.recorder.insert_tracking(tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.recorder.max_tracking_id(application_name)

    def reset(self, application_name: str) -> None:
        with self.lock:
            delete_tracking(self.recorder, application_name)
            self.state, self.learned, self.learned_to = OtaState(), set(), 0
            self.built_to = 0

    def rebuild(self, feed: ApplicationRecorder, mapper: EnvelopeMapper, up_to: int) -> int:
        """The state from the whole feed (up to its head: decisions after a restart then see
        what the previous instance recorded); positions past `up_to` (the checkpoint) are
        marked learned, so the worker reconciles them without applying them twice."""
        with self.lock:
            self.state, self.learned, self.learned_to = OtaState(), set(), 0
            self.wakes.clear()
            self._feed, self._mapper = feed, mapper
            count = self._read(up_to, mark=False)
            count += self._read(None, mark=True)
            self.built_to = up_to
            return count

    def reconcile_all(self) -> None:
        """Every deployment not completed (after a restart: what a crash left undone, and the
        wake-ups of an in-memory timer store)."""
        with self.lock:
            now = self.clock()
            for d in list(self.state.deployments.values()):
                if d.status is not DeploymentStatus.COMPLETED:
                    meta = EventMetadata(d.tenant_id, ACTOR, causation_id="restart")
                    self._reconcile(d.id, now, meta)

    # Timers ---------------------------------------------------------------------------------------

    def fire(self, timers: Sequence[Timer], now: datetime) -> None:
        """Due timers: reconcile each one's deployment at `now` (a stale timer decides
        nothing: the aggregates and the recorded deadlines say what is due)."""
        with self.lock:
            self.learn()
            for timer in sorted(set(timers)):
                if timer.kind == UPLOAD_EXPIRY:
                    continue  # a release's, the upload sweeper's (`ota.upload_expiry`)
                deployment_id = timer.stream_id
                execution = self.state.executions.get(timer.stream_id)
                if execution is not None:
                    deployment_id = execution.deployment_id
                if self.wakes.get(deployment_id) == timer.due_at:
                    del self.wakes[deployment_id]
                meta = EventMetadata(timer.tenant_id, ACTOR, causation_id=f"timer:{timer.key}")
                self._reconcile(deployment_id, now, meta)

    def _reconcile(self, deployment_id: UUID, now: datetime, meta: EventMetadata) -> None:
        """One deployment; a domain refusal is logged, not raised: it would stop the feed for
        every deployment, and the next event or timer of this one reconciles it again."""
        try:
            self.reconcile(deployment_id, now, meta)
        except DomainError:
            log.warning("ota: deployment %s not reconciled", deployment_id, exc_info=True)

    def wake(self, deployment: DeploymentFacts, at: datetime) -> None:
        """Schedule a `wake` at `at` unless one no later is pending."""
        pending = self.wakes.get(deployment.id)
        if pending is not None and pending <= at:
            return
        self.wakes[deployment.id] = at
        self.timers.schedule([Timer(at, deployment.tenant_id, deployment.id, 0, "wake")])

    # Learning -----------------------------------------------------------------------------------

    def learn(self) -> None:
        """Apply this process's own commits (and anything else recorded) past what it knows."""
        self._read(None, mark=True)

    def _read(self, stop: int | None, *, mark: bool) -> int:
        count, start = 0, self.learned_to
        while True:
            page = self._feed.select_notifications(
                start=start, limit=PAGE, stop=stop, topics=TOPICS, inclusive_of_start=False
            )
            for notification in page:
                if notification.id in self.learned:
                    continue
                self.state.apply(self._mapper.to_envelope(notification))
                if mark:
                    self.learned.add(notification.id)
            count += len(page)
            if len(page) < PAGE:
                break
            start = page[-1].id
        if page:
            self.learned_to = max(self.learned_to, page[-1].id)
        return count

    def _touched(self, envelope: EventEnvelope, meta: EventMetadata) -> list[UUID]:
        """The deployments an event may move on."""
        state, stream = self.state, envelope.stream_id
        name = envelope.type
        if name.startswith(_DEPLOYMENT):
            return [UUID(stream)]
        if name.startswith(_EXECUTION):
            execution = state.executions.get(UUID(stream))
            if execution is None:
                return []
            waiting = [
                e.deployment_id
                for e in state.by_device(execution.device_id)
                if e.state is ExecutionState.QUEUED and e.id != execution.id
            ]
            return [execution.deployment_id, *waiting]
        if name == FIRMWARE_WITHDRAWN.type:
            return [d.id for d in state.deployments.values() if d.firmware_id == stream]
        if name == TELEMETRY_BATCH_RECORDED.type:
            return self._reported(envelope, meta)
        if name in (DEVICE_REGISTERED.type, DEVICE_UPDATED.type, DEVICE_DECOMMISSIONED.type):
            return [
                d.id
                for d in state.deployments.values()
                if d.tenant_id == envelope.tenant_id
                and d.target.dynamic
                and d.status not in FINISHED
            ]
        return []

    def _reported(self, envelope: EventEnvelope, meta: EventMetadata) -> list[UUID]:
        """A reported version ends the device's active execution (12.3), settles a queued one
        that is already current and brings the device into a dynamic filter on versions."""
        device_id = UUID(str(envelope.payload["device_id"]))
        device = self.state.devices.get(device_id)
        reports = [e for e in envelope.payload["entries"] if e["status"].get("firmware_version")]
        if device is None or device.version is None or not reports:
            return []
        active = self.state.active_on(device_id)
        if active is not None:
            at = max(datetime.fromisoformat(e["at"]) for e in reports)
            command = ObserveVersion(device_id=device_id, version=device.version, at=at)
            self.service.observe_version(command, meta)
            self.learn()
        touched = set(joined_by_version(self.state, device_id))
        touched.update(e.deployment_id for e in self.state.by_device(device_id))
        return sorted(touched, key=str)
