"""The alerting process manager: telemetry, rules and devices in; alert events out.

`AlertingProcess` keeps the pure `AlertingPolicy` and a `RuleIndex` (rules by tenant and metric,
device facts) in memory and records what the policy's commands decide on `Alert` aggregates
(`write_side.alert_service.apply_policy_command`), with actor `system:alerting`, the triggering
event's id as causation id and its correlation id.

Exactly-once effect: the new events and the checkpoint (`Fleetwatch>alerting`) are committed in
ONE `insert_events(..., tracking=...)` of a process recorder (SQLite: one transaction; DynamoDB:
one TransactWriteItems). A batch whose commands touch more alerts than fit one call is split;
only the last part carries the checkpoint, and the earlier parts are harmless to replay because
every command is idempotent against the alert's state (deterministic alert ids per episode: an
open that finds its stream taken counts as a repeat, or as nothing when it is the same open;
repeats not newer than the alert's last one and resolves of resolved alerts record nothing).
Batches that decide nothing write nothing; the checkpoint is moved past them at most once per
tick. A tracking id that does not advance means another instance did this work: skipped.

State after a (re)start: rules, device facts and open alerts are rebuilt by reading the feed's
`AlertRule.*`, `Device.*`, `Alert.Raised/Resolved` events up to the checkpoint (what the policy's
commands did then is already recorded, so they are discarded), then processing resumes after
the checkpoint. Evaluation state that only readings carry (a for-duration's pending run, a
rate-of-change window) restarts empty. Time-based rules (absence, for-duration) are ticked with
the wall clock every `tick_interval`, only once the worker has caught up with the feed head it
saw at start (so a backlog never raises a false absence).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

from event_store.envelope import EnvelopeMapper, EventEnvelope, EventMetadata, recording_as
from event_store.tracking import AlreadyTracked
from projections.alerting_index import RuleIndex
from projections.batching import BatchingProjectionWorker
from projections.idle import FeedWake
from read_side.notifications import ChangeNotice
from write_side.alert_rules import (
    RULE_CREATED,
    RULE_DELETED,
    RULE_REVISED,
    SEVERITY_RANK,
    Absence,
    AlertRule,
    RuleDefinition,
    RuleVersion,
)
from write_side.alert_service import EscalateAlert, PolicyCommand, apply_policy_command
from write_side.alerting_policy import AlertingPolicy, DeviceFacts, OpenAlert
from write_side.alerts import ALERT_RAISED, ALERT_RESOLVED, Alert
from write_side.application import FleetApplication
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED, Device
from write_side.event_names import topic_prefix, type_prefix
from write_side.telemetry import TelemetryBatch
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED
from write_side.uuids import parse_uuid

log = logging.getLogger(__name__)

ACTOR = "system:alerting"
RULE_TOPICS = tuple(n.topic for n in (RULE_CREATED, RULE_REVISED, RULE_DELETED))
DEVICE_TOPICS = tuple(n.topic for n in (DEVICE_REGISTERED, DEVICE_UPDATED, DEVICE_DECOMMISSIONED))
ALERT_PREFIX = topic_prefix(Alert)
BATCH_TOPIC = TELEMETRY_BATCH_RECORDED.topic
FACT_TOPICS = (*RULE_TOPICS, *DEVICE_TOPICS, ALERT_RAISED.topic, ALERT_RESOLVED.topic)
_ALERT, _RULE, _DEVICE = type_prefix(Alert), type_prefix(AlertRule), type_prefix(Device)
_HANDLED = frozenset((*FACT_TOPICS, BATCH_TOPIC))
COMMIT_RETRIES = 3


@dataclass(frozen=True)
class _Pending:
    command: PolicyCommand
    meta: EventMetadata


class AlertingProcess:
    """The process manager's state and effects (a `BatchProjection` for the worker)."""

    name = "alerting"

    def __init__(
        self,
        app: FleetApplication,
        recorder: ProcessRecorder,
        *,
        max_alerts_per_call: int = 20,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.max_alerts_per_call = max_alerts_per_call
        self.policy = AlertingPolicy()
        self.index = RuleIndex()
        self._cache: dict[UUID, Alert] = {}  # open alerts as this process last saved them
        self._live = True  # False while rebuilding: no priming of absence watches per event
        self.built_to: int | None = None  # the checkpoint the state was rebuilt up to
        self.recorded_to = 0  # the last checkpoint this process recorded
        self.lock = threading.RLock()

    # The worker's interface ---------------------------------------------------------------------

    def handles(self, topic: str) -> bool:
        return topic in _HANDLED or topic.startswith(ALERT_PREFIX)

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        with self.lock:
            pending: list[_Pending] = []
            for envelope in envelopes:
                commands = self.decide(envelope)
                if commands:
                    meta = EventMetadata(
                        tenant_id=envelope.tenant_id,
                        actor=ACTOR,
                        correlation_id=envelope.correlation_id or uuid.uuid4().hex,
                        causation_id=str(envelope.event_id),
                    )
                    pending += [_Pending(command, meta) for command in commands]
            if pending:
                self.execute(pending, tracking)
        return []

    def tick(self, now: datetime) -> int:
        """Absence and for-duration deadlines at `now`; returns the number of commands."""
        with self.lock:
            commands = self.policy.handle_tick(now)
            pending = [
                _Pending(c, EventMetadata(tenant_id=self._tenant_of(c), actor=ACTOR))
                for c in commands
            ]
            if pending:
                self.execute(pending, None)
        return len(pending)

    def record_position(self, tracking: Tracking) -> None:
        """Move the checkpoint past notifications that decided nothing (everything up to
        `tracking` has had its effects recorded)."""
        with self.lock:
            if tracking.notification_id <= max(self.recorded_to, self.built_to or 0):
                return
            with contextlib.suppress(AlreadyTracked):  # another instance recorded it
                self.recorder.insert_tracking(tracking)
            self.recorded_to = tracking.notification_id

    def reset(self, application_name: str) -> None:
        """Forget the checkpoint and the state (`System.rebuild`: replay from position zero;
        the commands' idempotency makes the replay record nothing already recorded)."""
        with self.lock:
            _delete_tracking(self.recorder, application_name)
            self._clear()
            self.built_to = self.recorded_to = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.recorder.max_tracking_id(application_name)

    def rebuild(self, feed: ApplicationRecorder, mapper: EnvelopeMapper, up_to: int) -> int:
        """Rebuild rules, devices and open alerts from the feed up to `up_to` (the checkpoint);
        returns the number of events read."""
        with self.lock:
            self._clear()
            self._live = False
            count, start = 0, 0
            try:
                while start < up_to:
                    page = feed.select_notifications(
                        start=start,
                        limit=1000,
                        stop=up_to,
                        topics=FACT_TOPICS,
                        inclusive_of_start=False,
                    )
                    if not page:
                        break
                    for notification in page:
                        self.decide(mapper.to_envelope(notification))  # effects: already stored
                    start, count = page[-1].id, count + len(page)
            finally:
                self._live = True
            for device in list(self.index.devices.values()):
                self._prime(device)
            self.built_to = self.recorded_to = up_to
            return count

    # Deciding --------------------------------------------------------------------------------

    def decide(self, envelope: EventEnvelope) -> list[PolicyCommand]:
        """Update the state with one event; the commands it calls for."""
        kind, payload = envelope.type, envelope.payload
        if kind == TELEMETRY_BATCH_RECORDED.type:
            return self._readings(payload)
        if kind.startswith(_ALERT):
            return self._alert_event(envelope)
        if kind.startswith(_RULE):
            return self._rule_event(envelope)
        if kind.startswith(_DEVICE):
            return self._device_event(envelope)
        return []

    def _readings(self, payload: dict[str, Any]) -> list[PolicyCommand]:
        device = self.index.devices.get(parse_uuid(str(payload["device_id"])))
        if device is None:
            return []
        metrics = {m for entry in payload["entries"] for m in entry["metrics"]}
        rules = self.index.rules_for(device, metrics)
        if not rules:
            return []
        batch = TelemetryBatch.from_payload(payload)
        late = frozenset(e["message_id"] for e in payload["entries"] if e.get("late"))
        return list(self.policy.handle_readings(rules, device, batch, late))

    def _alert_event(self, envelope: EventEnvelope) -> list[PolicyCommand]:
        alert_id, payload = UUID(envelope.stream_id), envelope.payload
        cached = self._cache.get(alert_id)
        if cached is not None and cached.version < envelope.version:
            del self._cache[alert_id]  # someone else changed it (an operator)
        if envelope.type == ALERT_RAISED.type:
            device = self.index.devices.get(UUID(str(payload["device_id"])))
            if device is not None:
                self._note_raised(alert_id, device, payload)
        elif envelope.type == ALERT_RESOLVED.type:
            self._cache.pop(alert_id, None)
            self.policy.note_resolved(alert_id, cleared=bool(payload.get("auto")))
        return []

    def _note_raised(self, alert_id: UUID, device: DeviceFacts, payload: dict[str, Any]) -> None:
        rule_id = UUID(str(payload["rule_id"]))
        self.policy.note_opened(rule_id, device, int(payload["episode"]), alert_id)
        watch = self.policy.watches.get((rule_id, device.device_id))
        state = None if watch is None or watch.open_alert != alert_id else watch.state
        if watch is not None and state is not None and state.since is None:
            # `note_opened` leaves `since` unset, and an absence alert clears only with it.
            watch.state = replace(state, since=datetime.fromisoformat(str(payload["at"])))

    def _rule_event(self, envelope: EventEnvelope) -> list[PolicyCommand]:
        rule_id, payload, at = UUID(envelope.stream_id), envelope.payload, envelope.occurred_at
        if envelope.type == RULE_DELETED.type:
            self.index.remove_rule(rule_id)
            return list(self.policy.handle_rule_deleted(rule_id, at))
        old = self.index.rules.get(rule_id)
        tenant = str(payload.get("tenant_id") or (old.tenant_id if old else envelope.tenant_id))
        revision = int(payload.get("revision", 1))
        try:
            rule = RuleVersion(
                rule_id, tenant, revision, RuleDefinition.model_validate(payload["definition"])
            )
        except ValueError:  # stored before today's checks: skip it rather than stop alerting
            log.exception("alerting: rule %s revision %d is unusable; ignored", rule_id, revision)
            return []
        self.index.put_rule(rule)
        commands: list[PolicyCommand] = []
        if envelope.type == RULE_REVISED.type:
            commands += self.policy.handle_rule_revised(rule, at)
            severity = rule.definition.severity
            if old is not None and SEVERITY_RANK[severity] > SEVERITY_RANK[old.definition.severity]:
                commands += [
                    EscalateAlert(w.open_alert, severity, at)
                    for w in self.policy.watches.values()
                    if w.rule_id == rule_id and w.open_alert is not None
                ]
        if self._live and isinstance(rule.definition.condition, Absence):
            for device in self.index.devices_of(tenant):
                self._prime(device)
        return commands

    def _device_event(self, envelope: EventEnvelope) -> list[PolicyCommand]:
        device_id, payload = UUID(envelope.stream_id), envelope.payload
        if envelope.type == DEVICE_DECOMMISSIONED.type:
            self.index.remove_device(device_id)
            return list(self.policy.handle_device_removed(device_id, envelope.occurred_at))
        old = self.index.devices.get(device_id)
        if envelope.type == DEVICE_REGISTERED.type:
            tags = payload.get("tags") or ()
            device = DeviceFacts(
                device_id, str(payload["tenant_id"]), str(payload["device_type"]), frozenset(tags)
            )
        elif old is not None:
            tags = payload.get("tags")
            device = DeviceFacts(
                device_id,
                old.tenant_id,
                str(payload.get("device_type") or old.device_type),
                old.tags if tags is None else frozenset(tags),
            )
        else:
            return []
        self.index.put_device(device)
        if self._live:
            self._prime(device)
        return []

    def _prime(self, device: DeviceFacts) -> None:
        """Start the absence timers of a device (from now: rule creation or registration)."""
        rules = self.index.absence_rules(device)
        if rules:
            self.policy.handle_readings(rules, device, TelemetryBatch(device.device_id, ()))

    def _tenant_of(self, command: PolicyCommand) -> str:
        if isinstance(command, OpenAlert):
            return command.tenant_id
        for watch in self.policy.watches.values():
            if watch.open_alert == command.alert_id:
                return watch.device.tenant_id
        alert = self._load(command.alert_id, None)
        return "" if alert is None else alert.tenant_id  # no alert: the command records nothing

    def _clear(self) -> None:
        self.policy = AlertingPolicy()
        self.index = RuleIndex()
        self._cache.clear()

    # Recording -------------------------------------------------------------------------------

    def execute(self, pending: Sequence[_Pending], tracking: Tracking | None) -> None:
        """Record the commands' effects; `tracking` commits with the last part."""
        by_alert: dict[UUID, list[_Pending]] = {}
        for item in pending:
            by_alert.setdefault(item.command.alert_id, []).append(item)
        groups = list(by_alert.values())
        size = self.max_alerts_per_call
        parts = [groups[i : i + size] for i in range(0, len(groups), size)] or [[]]
        for number, part in enumerate(parts, start=1):
            self._commit(
                [p for group in part for p in group], tracking if number == len(parts) else None
            )

    def _commit(self, pending: list[_Pending], tracking: Tracking | None) -> None:
        for attempt in range(COMMIT_RETRIES):
            alerts, stored = self._decide_part(pending, fresh=attempt > 0)
            try:
                if stored:
                    self.recorder.insert_events(stored, tracking=tracking)
                elif tracking is not None:
                    self.recorder.insert_tracking(tracking)
            except IntegrityError as e:
                for alert_id in alerts:
                    self._cache.pop(alert_id, None)
                done = self.recorder.max_tracking_id(tracking.application_name) if tracking else 0
                if tracking is not None and (done or 0) >= tracking.notification_id:
                    # Another instance processed these notifications: the worker skips them
                    # (the process recorder does not say which condition failed, the
                    # checkpoint does).
                    raise AlreadyTracked(str(e)) from e
                continue  # a stream moved on (an operator, another raiser): reload, decide again
            for alert_id, alert in alerts.items():
                if alert is None or alert.status == "resolved":
                    self._cache.pop(alert_id, None)
                else:
                    self._cache[alert_id] = alert
            if tracking is not None:
                self.recorded_to = max(self.recorded_to, tracking.notification_id)
            return
        msg = f"alert commands not recorded after {COMMIT_RETRIES} attempts"
        raise OperationalError(msg)

    def _decide_part(
        self, pending: list[_Pending], *, fresh: bool
    ) -> tuple[dict[UUID, Alert | None], list[StoredEvent]]:
        """The alerts the commands touch (as they will be once stored) and the new events,
        each stored with its command's metadata."""
        alerts: dict[UUID, Alert | None] = {}
        stored: list[StoredEvent] = []
        for item in pending:
            alert_id = item.command.alert_id
            if alert_id not in alerts:
                alerts[alert_id] = self._load(alert_id, item.command, fresh=fresh)
            new = apply_policy_command(alerts[alert_id], item.command)
            if new is not None:
                alerts[alert_id] = new
                with recording_as(item.meta):
                    stored += [self.app.mapper.to_stored_event(e) for e in new.collect_events()]
        return alerts, stored

    def _load(
        self, alert_id: UUID, command: PolicyCommand | None, fresh: bool = False
    ) -> Alert | None:
        if not fresh:
            cached = self._cache.get(alert_id)
            if cached is not None:
                return cached
            if isinstance(command, OpenAlert):
                return None  # a new episode's stream: a conflict on its first version reloads
        try:
            alert: Aggregate = self.app.repository.get(alert_id)
        except AggregateNotFoundError:
            return None
        return alert if isinstance(alert, Alert) else None


class AlertingWorker(BatchingProjectionWorker):
    """Runs `AlertingProcess` over the feed; rebuilds its state from the checkpoint on every
    (re)start, ticks it, and moves the checkpoint past quiet stretches."""

    projection: AlertingProcess

    def __init__(
        self,
        process: AlertingProcess,
        *,
        tick_interval: float = 1.0,
        record_interval: float = 0.1,
        clock: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(process, checkpoints=process.recorder, **kwargs)
        self.tick_interval = tick_interval
        # How often the checkpoint follows batches that decided nothing (no alert events to
        # commit it with): processes that wait on it (`System.wait_for` of an API process, the
        # benchmark) then see them applied within this, not within a tick.
        self.record_interval = record_interval
        self._recorded_at = time.monotonic()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._ticking_from: int | None = None  # ticks start once the position reaches it
        self._housekept_at = time.monotonic()

    def rebuild_state(self) -> int:
        self._position = self.checkpoint()
        self._ticking_from = self.recorder.max_notification_id() or 0
        return self.projection.rebuild(self.recorder, self.mapper, self._position)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        if self.projection.built_to != self._position:
            self.rebuild_state()
        return super().catch_up(progress)

    def resume(self) -> None:
        self.rebuild_state()
        self._housekept_at = time.monotonic()

    def housekeeping(self) -> None:
        """A tick (once caught up) and the checkpoint of quiet stretches."""
        if self._ticking_from is not None and self._position >= self._ticking_from:
            self.projection.tick(self.clock())
        self.projection.record_position(Tracking(self.tracking_name, self._position))

    def housekeeping_if_due(self) -> None:
        now = time.monotonic()
        if now - self._housekept_at >= self.tick_interval:
            self.housekeeping()
            self._housekept_at = self._recorded_at = time.monotonic()
        elif now - self._recorded_at >= self.record_interval:
            self.projection.record_position(Tracking(self.tracking_name, self._position))
            self._recorded_at = time.monotonic()

    def _follow(self, wake: FeedWake) -> None:
        # `resume()` (in `_run`) rebuilt the state from the checkpoint.
        while not self._stopping.is_set():
            batch = (
                self.recorder.select_notifications(
                    start=self._position, limit=self.max_batch, inclusive_of_start=False
                )
                if wake.worth_reading(self._position)
                else []
            )
            if batch:
                self.apply_batch(batch)
            self.housekeeping_if_due()
            if not batch:
                wake.wait(min(self.idle_poll, self.tick_interval))
                wake.clear()


def _delete_tracking(recorder: ProcessRecorder, application_name: str) -> None:
    delete = getattr(recorder, "delete_tracking", None)
    if delete is not None:  # DynamoDB
        delete(application_name)
        return
    datastore = getattr(recorder, "datastore", None)
    with datastore.transaction(commit=True) as c:  # type: ignore[union-attr]
        c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
