"""The alerts projection: `AlertRule.*`, `Alert.*` and device names into the alert read models.

`evolve_rule` and `evolve_alert` are pure. Rows fed by one stream carry that stream's version
as a guard (an event at or below it is skipped), so replays are harmless; timeline entries are
keyed by the time they were recorded (the event's own time) and feed position, so writing one
again is idempotent and the timeline keeps the order in which transitions were decided (a
reading's time, `at`, may be far older than an operator's later action). Consecutive repeats of an
alert are coalesced into one timeline entry (its `count` and `last_at` grow) until the next
transition. `AlertsProjection.process_batch` folds a batch in memory and hands the changed rows
and the checkpoint to the view, which commits them together; one `alert` change notice per
changed alert and transition (repeats: only the last of a batch) is published afterwards.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.runner import event_topics
from read_side.alerts import (
    ALERT_TOPIC,
    AlertReader,
    AlertRow,
    AlertRuleRow,
    DeviceName,
    TimelineEntry,
    time_key,
    to_record,
)
from read_side.notifications import ChangeNotice
from write_side.alert_rules import RULE_CREATED, RULE_DELETED, RULE_REVISED, AlertRule
from write_side.alerts import (
    ALERT_ACKNOWLEDGED,
    ALERT_ESCALATED,
    ALERT_RAISED,
    ALERT_REPEATED,
    ALERT_RESOLVED,
    Alert,
)
from write_side.devices import DEVICE_REGISTERED, DEVICE_UPDATED, Device
from write_side.event_names import topic_prefix, topics, type_prefix

RULE_PREFIX = topic_prefix(AlertRule)
ALERT_PREFIX = topic_prefix(Alert)
DEVICE_TOPICS = topics((DEVICE_REGISTERED, DEVICE_UPDATED))  # for the device names alerts show
_RULE, _DEVICE = type_prefix(AlertRule), type_prefix(Device)
RESOLUTIONS = {  # the alerting policy's notes on the auto-resolves it records
    "the rule was deleted": "rule_deleted",
    "the rule no longer applies": "rule_out_of_scope",
    "the device was removed": "device_decommissioned",
}
TRANSITIONS = {
    ALERT_RAISED.type: "raised",
    ALERT_REPEATED.type: "repeated",
    ALERT_ACKNOWLEDGED.type: "acknowledged",
    ALERT_RESOLVED.type: "resolved",
    ALERT_ESCALATED.type: "escalated",
}


@dataclass
class AlertsChanges:
    rules: list[AlertRuleRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    entries: list[TimelineEntry] = field(default_factory=list)
    devices: list[DeviceName] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rules or self.alerts or self.entries or self.devices)


class AlertsView(ABC):
    """Port for the projection's writes: rows and checkpoint commit together."""

    @abstractmethod
    def commit(self, changes: AlertsChanges, tracking: Tracking) -> None:
        """Upsert the rows and record `tracking` (when several transactions are needed, an
        alert's row and its timeline entries share one; the checkpoint rides on the last)."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""


def evolve_rule(current: AlertRuleRow | None, envelope: EventEnvelope) -> AlertRuleRow | None:
    """The rule's row after `envelope`; None when already applied or not a rule event."""
    payload, at, kind = envelope.payload, envelope.occurred_at, envelope.type
    common: dict[str, Any] = {
        "version": envelope.version,
        "updated_at": at,
        "position": envelope.position or 0,
    }
    if kind == RULE_CREATED.type:
        definition = dict(payload["definition"])
        return AlertRuleRow(
            tenant_id=str(payload["tenant_id"]),
            rule_id=UUID(envelope.stream_id),
            revision=1,
            name=definition["name"],
            severity=definition["severity"],
            enabled=bool(definition.get("enabled", True)),
            deleted=False,
            definition=definition,
            revisions=[_revision(1, definition, at, envelope.actor)],
            created_at=at,
            **common,
        )
    if current is None or envelope.version <= current.version:
        return None
    if kind == RULE_REVISED.type:
        definition, revision = dict(payload["definition"]), int(payload["revision"])
        return replace(
            current,
            revision=revision,
            name=definition["name"],
            severity=definition["severity"],
            enabled=bool(definition.get("enabled", True)),
            definition=definition,
            revisions=[*current.revisions, _revision(revision, definition, at, envelope.actor)],
            **common,
        )
    if kind == RULE_DELETED.type:
        return replace(current, deleted=True, **common)
    return None


def evolve_alert(
    current: AlertRow | None,
    envelope: EventEnvelope,
    rule: AlertRuleRow | None = None,
    device_name: str | None = None,
    run: TimelineEntry | None = None,
) -> tuple[AlertRow, TimelineEntry] | None:
    """The alert's row and the timeline entry written or updated by `envelope`; None when
    already applied. `rule` and `device_name` are needed for `Alert.Raised`; `run` is the entry
    of the current run of repeats (`current.repeat_run`) for `Alert.Repeated`."""
    payload, kind = envelope.payload, envelope.type
    if kind not in TRANSITIONS or (current is None and kind != ALERT_RAISED.type):
        return None
    if current is not None and envelope.version <= current.version:
        return None
    at = _time(payload["at"])
    common: dict[str, Any] = {"version": envelope.version, "position": envelope.position or 0}
    if kind == ALERT_RAISED.type:
        row = _raised(envelope, rule, device_name, at)
    elif current is None:  # pragma: no cover - excluded above
        return None
    elif kind == ALERT_REPEATED.type:
        value = float(payload["value"])
        row = replace(
            current,
            count=int(payload["count"]),
            last_value=value,
            peak_value=payload.get("peak"),
            last_at=at,
            **common,
        )
        if run is not None and current.repeat_run == run.key:
            entry = replace(run, count=run.count + 1, value=value, last_at=at)
            return replace(row, repeat_run=entry.key), entry
    elif kind == ALERT_ACKNOWLEDGED.type:
        row = replace(
            current,
            state="acknowledged",
            acknowledged_at=at,
            acknowledged_by=payload["actor"],
            acknowledge_note=payload.get("note"),
            repeat_run=None,
            **common,
        )
    elif kind == ALERT_RESOLVED.type:
        auto, note = bool(payload.get("auto")), payload.get("note")
        row = replace(
            current,
            state="resolved",
            resolved_at=at,
            resolved_by=payload["actor"],
            resolution=RESOLUTIONS.get(note or "", "auto") if auto else "manual",
            resolve_note=note,
            repeat_run=None,
            last_value=payload.get("value") if auto else current.last_value,
            **common,
        )
    else:
        row = replace(current, severity=str(payload["severity"]), repeat_run=None, **common)
    entry = TimelineEntry(
        tenant_id=row.tenant_id,
        key=f"{time_key(envelope.occurred_at)}#{envelope.position or 0:016d}",
        event_id=envelope.event_id,
        alert_id=row.alert_id,
        device_id=row.device_id,
        rule_id=row.rule_id,
        severity=row.severity,
        transition=TRANSITIONS[kind],
        state_after=row.state,
        actor=envelope.actor,
        at=at,
        recorded_at=envelope.occurred_at,
        position=envelope.position or 0,
        note=payload.get("note"),
        value=payload.get("value"),
        last_at=at,
    )
    if kind == ALERT_REPEATED.type:
        row = replace(row, repeat_run=entry.key)
    return row, entry


def condition_text(definition: dict[str, Any] | None) -> str:
    """A short human form of a rule's raise condition, e.g. `temp > 80 for 60 s`."""
    if not definition:
        return "(unknown rule revision)"
    c = definition["condition"]
    kind, metric = c["kind"], c.get("metric")
    if kind == "absence":
        what = f"no {metric} reading" if metric else "no message"
        return f"{what} for {c['seconds']:g} s"
    if kind == "rate_of_change":
        unit = "s" if c.get("per", "second") == "second" else "min"
        window = f" over {c['window_seconds']:g} s" if c.get("window_seconds") else ""
        return f"{metric} {c.get('direction', 'any')} faster than {c['rate']:g}/{unit}{window}"
    text = f"{metric} {c['op']} {c['value']:g}"
    return f"{text} for {c['seconds']:g} s" if kind == "for_duration" else text


def _raised(
    envelope: EventEnvelope, rule: AlertRuleRow | None, device_name: str | None, at: datetime
) -> AlertRow:
    payload = envelope.payload
    revision = int(payload["rule_revision"])
    definition = rule.definition_of(revision) if rule is not None else None
    condition = (definition or {}).get("condition", {})
    value = payload.get("value")
    return AlertRow(
        tenant_id=str(payload["tenant_id"]),
        alert_id=UUID(envelope.stream_id),
        rule_id=UUID(str(payload["rule_id"])),
        rule_revision=revision,
        rule_name=(definition or {}).get("name", ""),
        device_id=UUID(str(payload["device_id"])),
        device_name=device_name or "",
        episode=int(payload["episode"]),
        severity=str(payload["severity"]),
        state="open",
        kind=condition.get("kind", "unknown"),
        metric=condition.get("metric"),
        trigger_value=value,
        threshold=condition.get("value", condition.get("rate")),
        condition_text=condition_text(definition),
        raised_at=at,
        count=1,
        last_value=value,
        peak_value=value,
        last_at=at,
        version=envelope.version,
        position=envelope.position or 0,
    )


def _revision(
    revision: int, definition: dict[str, Any], at: datetime, actor: str
) -> dict[str, Any]:
    return {
        "revision": revision,
        "definition": definition,
        "revised_at": at.isoformat(),
        "revised_by": actor,
    }


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


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
