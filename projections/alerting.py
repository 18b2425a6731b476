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

The parts, one job each: this module (deciding per event, rebuilding, the worker's interface),
`projections.alerting_facts` (rule, device and alert events), `projections.alerting_index`,
`projections.alerting_recording` (committing the effects), `projections.alerting_worker`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, ProcessRecorder, Tracking

from event_store.envelope import EnvelopeMapper, EventEnvelope, EventMetadata
from event_store.state_snapshots import StateSnapshots
from event_store.tracking import AlreadyTracked, delete_tracking
from projections.alerting_facts import AlertFacts
from projections.alerting_index import RuleIndex
from projections.alerting_recording import AlertRecording, PendingCommand
from projections.alerting_snapshot import capture, restore
from read_side.notifications import ChangeNotice
from write_side.alert_rules import RULE_CREATED, RULE_DELETED, RULE_REVISED, AlertRule
from write_side.alert_service import PolicyCommand
from write_side.alerting_policy import AlertingPolicy, OpenAlert
from write_side.alerts import ALERT_RAISED, ALERT_RESOLVED, Alert
from write_side.application import FleetApplication
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED, Device
from write_side.event_names import topic_prefix, type_prefix
from write_side.telemetry import TelemetryBatch
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED
from write_side.uuids import parse_uuid

ACTOR = "system:alerting"
log = logging.getLogger(__name__)
RULE_TOPICS = tuple(n.topic for n in (RULE_CREATED, RULE_REVISED, RULE_DELETED))
DEVICE_TOPICS = tuple(n.topic for n in (DEVICE_REGISTERED, DEVICE_UPDATED, DEVICE_DECOMMISSIONED))
ALERT_PREFIX = topic_prefix(Alert)
BATCH_TOPIC = TELEMETRY_BATCH_RECORDED.topic
FACT_TOPICS = (*RULE_TOPICS, *DEVICE_TOPICS, ALERT_RAISED.topic, ALERT_RESOLVED.topic)
_ALERT, _RULE, _DEVICE = type_prefix(Alert), type_prefix(AlertRule), type_prefix(Device)
_HANDLED = frozenset((*FACT_TOPICS, BATCH_TOPIC))


class AlertingProcess(AlertFacts, AlertRecording):
    """The process manager's state and effects (a `BatchProjection` for the worker; the
    meaning of rule, device and alert events is `AlertFacts`, the recording of effects
    `AlertRecording`)."""

    name = "alerting"

    def __init__(
        self,
        app: FleetApplication,
        recorder: ProcessRecorder,
        *,
        max_alerts_per_call: int = 20,
        snapshots: StateSnapshots | None = None,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.max_alerts_per_call = max_alerts_per_call
        self.snapshots = snapshots  # where the state is kept across restarts (none: not kept)
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
            pending: list[PendingCommand] = []
            for envelope in envelopes:
                commands = self.decide(envelope)
                if commands:
                    meta = EventMetadata(
                        tenant_id=envelope.tenant_id,
                        actor=ACTOR,
                        correlation_id=envelope.correlation_id or uuid.uuid4().hex,
                        causation_id=str(envelope.event_id),
                    )
                    pending += [PendingCommand(command, meta) for command in commands]
            if pending:
                self.execute(pending, tracking)
        return []

    def tick(self, now: datetime) -> int:
        """Absence and for-duration deadlines at `now`; returns the number of commands."""
        with self.lock:
            commands = self.policy.handle_tick(now)
            pending = [
                PendingCommand(c, EventMetadata(tenant_id=self._tenant_of(c), actor=ACTOR))
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
            delete_tracking(self.recorder, application_name)
            self._clear()
            self.built_to = self.recorded_to = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.recorder.max_tracking_id(application_name)

    def rebuild(self, feed: ApplicationRecorder, mapper: EnvelopeMapper, up_to: int) -> int:
        """Rebuild the state up to `up_to` (the checkpoint); returns the number of events read.
        From the latest snapshot not beyond `up_to` when there is one (then the events after it,
        readings included, are decided again with their effects discarded: the state is what it
        was, pending runs and windows too); else rules, devices and open alerts from the feed's
        start (evaluation state restarts empty)."""
        with self.lock:
            self._clear()
            self._live = False
            count, start, topics = 0, 0, FACT_TOPICS
            restored = self._restore(up_to)
            if restored is not None:
                start, topics = restored, (*FACT_TOPICS, BATCH_TOPIC)
            try:
                while start < up_to:
                    page = feed.select_notifications(
                        start=start,
                        limit=1000,
                        stop=up_to,
                        topics=topics,
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

    def save_snapshot(self, position: int) -> int:
        """Keep the state as at `position` (the caller has just recorded that checkpoint, and
        every effect up to it is stored); the snapshot's size in bytes (0: not kept)."""
        if self.snapshots is None:
            return 0
        with self.lock:
            data = capture(self.policy, self.index, position)
        self.snapshots.save(self.name, position, data)
        return len(data)

    def _restore(self, up_to: int) -> int | None:
        """The state from the latest snapshot (its position), or None when there is none at
        or before `up_to` (a checkpoint rewound below it) or it cannot be read."""
        if self.snapshots is None:
            return None
        try:
            found = self.snapshots.latest(self.name)
            if found is None or found.position > up_to:
                return None
            position, self.index, self.policy = restore(found.data)
        except Exception:  # a snapshot is an optimisation: rebuild from the feed instead
            log.exception("alerting: snapshot not usable; rebuilding from the feed")
            self._clear()
            return None
        return position

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

    def _tenant_of(self, command: PolicyCommand) -> str:
        if isinstance(command, OpenAlert):
            return command.tenant_id
        watch = self.policy.watch_of_alert(command.alert_id)
        if watch is not None:
            return watch.device.tenant_id
        alert = self._load(command.alert_id, None)
        return "" if alert is None else alert.tenant_id  # no alert: the command records nothing

    def _clear(self) -> None:
        self.policy = AlertingPolicy()
        self.index = RuleIndex()
        self._cache.clear()
