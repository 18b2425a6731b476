"""The alerts projection: `AlertRule.*`, `Alert.*` and device names into the alert read models.

`evolve_rule` and `evolve_alert` are pure (`projections.alert_evolve`). Rows fed by one stream
carry that stream's version as a guard (an event at or below it is skipped), so replays are
harmless; timeline entries are keyed by the time they were recorded (the event's own time) and
feed position, so writing one again is idempotent and the timeline keeps the order in which
transitions were decided (a reading's time, `at`, may be far older than an operator's later
action). Consecutive repeats of an alert are coalesced into one timeline entry (its `count` and
`last_at` grow) until the next transition. `AlertsProjection.process_batch` folds a batch in
memory and hands the changed rows and the checkpoint to the view (`read_side.alerts.AlertsView`,
implemented beside the tables it writes), which commits them together; one `alert` change
notice per changed alert and transition (repeats: only the last of a batch) is published
afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.alert_evolve import evolve_alert, evolve_rule
from projections.runner import event_topics
from read_side.alerts import (
    ALERT_TOPIC,
    AlertReader,
    AlertRow,
    AlertRuleRow,
    AlertsChanges,
    AlertsView,
    DeviceName,
    TimelineEntry,
    to_record,
)
from read_side.notifications import ChangeNotice
from write_side.alert_rules import AlertRule
from write_side.alerts import ALERT_RAISED, ALERT_REPEATED, Alert
from write_side.devices import DEVICE_REGISTERED, DEVICE_UPDATED, Device
from write_side.event_names import topic_prefix, topics, type_prefix

RULE_PREFIX = topic_prefix(AlertRule)
ALERT_PREFIX = topic_prefix(Alert)
DEVICE_TOPICS = topics((DEVICE_REGISTERED, DEVICE_UPDATED))  # for the device names alerts show
_RULE, _DEVICE = type_prefix(AlertRule), type_prefix(Device)


class AlertsProjection:
    """Alert rules, alerts, the alert timeline (and the device names alerts show)."""

    name = "alerts"

    def __init__(self, view: AlertsView, reader: AlertReader) -> None:
        self.view = view
        self.reader = reader
        candidates = [*event_topics(Alert, AlertRule), *sorted(DEVICE_TOPICS)]
        self.topics = tuple(t for t in candidates if self.handles(t))

    def handles(self, topic: str) -> bool:
        return topic.startswith((ALERT_PREFIX, RULE_PREFIX)) or topic in DEVICE_TOPICS

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        batch = _Batch(self.reader)
        notices: list[ChangeNotice] = []
        for envelope in envelopes:
            row = batch.apply(envelope)
            if row is not None:
                notices.append(_notice(row, envelope))
        changes = batch.changes()
        if changes:
            self.view.commit(changes, tracking)
        last, repeated = {n.key: i for i, n in enumerate(notices)}, ALERT_REPEATED.type
        return [n for i, n in enumerate(notices) if n.event_type != repeated or last[n.key] == i]


def _notice(row: AlertRow, envelope: EventEnvelope) -> ChangeNotice:
    return ChangeNotice(
        tenant_id=row.tenant_id,
        topic=ALERT_TOPIC,
        key=str(row.alert_id),
        position=envelope.position or 0,
        event_type=envelope.type,
        data=to_record(row),
    )


class _Batch:
    """The rows a batch changes, read once each from the reader and then kept in memory."""

    def __init__(self, reader: AlertReader) -> None:
        self.reader = reader
        self.rules: dict[tuple[str, UUID], AlertRuleRow | None] = {}
        self.alerts: dict[tuple[str, UUID], AlertRow | None] = {}
        self.entries: dict[tuple[str, str], TimelineEntry] = {}
        self.names: dict[tuple[str, UUID], str | None] = {}
        self.dirty_rules: set[tuple[str, UUID]] = set()
        self.dirty_alerts: dict[tuple[str, UUID], list[tuple[str, str]]] = {}
        self.dirty_names: set[tuple[str, UUID]] = set()

    def apply(self, envelope: EventEnvelope) -> AlertRow | None:
        tenant, stream = envelope.tenant_id, UUID(envelope.stream_id)
        if envelope.type.startswith(_RULE):
            rule = evolve_rule(self._rule(tenant, stream), envelope)
            if rule is not None:
                self.rules[tenant, stream] = rule
                self.dirty_rules.add((tenant, stream))
            return None
        if envelope.type.startswith(_DEVICE):
            name = envelope.payload.get("name")
            if name is not None:
                self.names[tenant, stream] = str(name)
                self.dirty_names.add((tenant, stream))
            return None
        current = self._alert(tenant, stream)
        rule = name_ = run = None
        if envelope.type == ALERT_RAISED.type:
            payload = envelope.payload
            rule = self._rule(tenant, UUID(str(payload["rule_id"])))
            name_ = self._name(tenant, UUID(str(payload["device_id"])))
        elif current is not None and current.repeat_run is not None:
            run = self._entry(tenant, current.repeat_run)
        result = evolve_alert(current, envelope, rule, name_, run)
        if result is None:
            return None
        row, entry = result
        self.alerts[tenant, stream] = row
        self.entries[tenant, entry.key] = entry
        self.dirty_alerts.setdefault((tenant, stream), []).append((tenant, entry.key))
        return row

    def changes(self) -> AlertsChanges:
        changes = AlertsChanges()
        for key, keys in self.dirty_alerts.items():
            row = self.alerts[key]
            if row is not None:
                changes.alerts.append(row)
                changes.entries += [self.entries[k] for k in dict.fromkeys(keys)]
        changes.rules = [r for k in self.dirty_rules if (r := self.rules[k]) is not None]
        changes.devices = [
            DeviceName(tenant, device, name)
            for (tenant, device) in self.dirty_names
            if (name := self.names[tenant, device]) is not None
        ]
        return changes

    def _rule(self, tenant: str, rule_id: UUID) -> AlertRuleRow | None:
        if (tenant, rule_id) not in self.rules:
            self.rules[tenant, rule_id] = self.reader.get_rule(tenant, rule_id)
        return self.rules[tenant, rule_id]

    def _alert(self, tenant: str, alert_id: UUID) -> AlertRow | None:
        if (tenant, alert_id) not in self.alerts:
            self.alerts[tenant, alert_id] = self.reader.get_alert(tenant, alert_id)
        return self.alerts[tenant, alert_id]

    def _name(self, tenant: str, device_id: UUID) -> str | None:
        if (tenant, device_id) not in self.names:
            self.names[tenant, device_id] = self.reader.device_name(tenant, device_id)
        return self.names[tenant, device_id]

    def _entry(self, tenant: str, key: str) -> TimelineEntry | None:
        if (tenant, key) not in self.entries:
            found = self.reader.timeline_entry(tenant, key)
            if found is None:
                return None
            self.entries[tenant, key] = found
        return self.entries[tenant, key]
