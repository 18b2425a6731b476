"""The alerts projection's pure part: one event and the rows it touches in, the new rows out.

Apart from `projections.alert_views` (the projection and its batch; the view port it commits
through is `read_side.alerts.AlertsView`) because this is the whole meaning of the events for
the read models, with no reader, no view and no I/O, testable alone. Rows fed by one stream
carry that stream's version as a guard (an event at or below it is skipped), so replays are
harmless; a timeline entry is keyed by the time it was recorded and its feed position;
consecutive repeats grow one entry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventEnvelope
from read_side.alerts import AlertRow, AlertRuleRow, TimelineEntry, time_key
from write_side.alert_lifecycle import Transition
from write_side.alert_rules import RULE_CREATED, RULE_DELETED, RULE_REVISED
from write_side.alerts import (
    ALERT_ACKNOWLEDGED,
    ALERT_ESCALATED,
    ALERT_RAISED,
    ALERT_REPEATED,
    ALERT_RESOLVED,
)

RESOLUTIONS = {  # the alerting policy's notes on the auto-resolves it records
    "the rule was deleted": "rule_deleted",
    "the rule no longer applies": "rule_out_of_scope",
    "the device was removed": "device_decommissioned",
}
TRANSITIONS: dict[str, Transition] = {  # event type -> the transition the timeline shows
    ALERT_RAISED.type: "raised",
    ALERT_REPEATED.type: "repeated",
    ALERT_ACKNOWLEDGED.type: "acknowledged",
    ALERT_RESOLVED.type: "resolved",
    ALERT_ESCALATED.type: "escalated",
}


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
