"""The alerts slice's command path: a rule or alert command through the one command path
(`api.command_path`), answered with the read model's row, or, while the read model is still
behind, the row built from the aggregate just saved (`rule_row_of`, `alert_row_of`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from api.auth import Principal
from api.command_path import run_command
from api.ports import FleetSystem
from event_store.envelope import EventMetadata
from read_side.alerts import AlertRow, AlertRuleRow
from write_side.alert_rules import AlertRule
from write_side.alerts import Alert
from write_side.application import Saved

C = TypeVar("C")


async def run_rule_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[AlertRule]],
    command: C,
) -> AlertRuleRow:
    """A rule command through the one command path (`api.command_path`)."""

    def fallback(saved: Saved[AlertRule], row: AlertRuleRow | None) -> AlertRuleRow:
        return rule_row_of(saved.aggregate, row, caller.actor)

    read = system.alerts.get_rule
    return await run_command(system, caller, handle, command, read=read, fallback=fallback)


async def run_alert_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[Alert]],
    command: C,
) -> AlertRow:
    """An alert command (acknowledge, resolve) through the one command path."""

    def fallback(saved: Saved[Alert], row: AlertRow | None) -> AlertRow:
        return alert_row_of(saved.aggregate, row)

    read = system.alerts.get_alert
    return await run_command(system, caller, handle, command, read=read, fallback=fallback)


def rule_row_of(rule: AlertRule, row: AlertRuleRow | None, actor: str) -> AlertRuleRow:
    """The rule as saved, for a response the read model has not caught up with yet."""
    definition = rule.definition.model_dump(mode="json")
    revisions = list(row.revisions) if row is not None else []
    if not revisions or revisions[-1]["revision"] != rule.revision:
        revisions.append(
            {
                "revision": rule.revision,
                "definition": definition,
                "revised_at": rule.modified_on.isoformat(),
                "revised_by": actor,
            }
        )
    return AlertRuleRow(
        tenant_id=rule.tenant_id,
        rule_id=rule.id,
        revision=rule.revision,
        name=rule.definition.name,
        severity=rule.definition.severity,
        enabled=rule.definition.enabled,
        deleted=rule.deleted,
        definition=definition,
        revisions=revisions,
        version=rule.version,
        created_at=rule.created_on,
        updated_at=rule.modified_on,
        position=row.position if row is not None else 0,
    )


def alert_row_of(alert: Alert, row: AlertRow | None) -> AlertRow:
    """The alert as saved (its lifecycle fields), over the read model's row when there is one."""
    base = row or AlertRow(
        tenant_id=alert.tenant_id, alert_id=alert.id, rule_id=alert.rule_id,
        rule_revision=alert.rule_revision, rule_name="", device_id=alert.device_id,
        device_name="", episode=alert.episode, severity=alert.severity, state=alert.status,
        kind="unknown", metric=None, trigger_value=None, threshold=None, condition_text="",
        raised_at=alert.raised_at, count=alert.count, last_value=alert.last_value,
        peak_value=alert.peak, last_at=alert.last_at, version=alert.version, position=0,
    )  # fmt: skip
    notes: dict[str, str | None] = {"acknowledged": None, "resolved": None}
    if alert.notes and alert.status in notes:
        notes[alert.status] = alert.notes[-1]
    return replace(
        base,
        severity=alert.severity,
        state=alert.status,
        count=alert.count,
        last_value=alert.last_value,
        peak_value=alert.peak,
        last_at=alert.last_at,
        version=alert.version,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledge_note=base.acknowledge_note or notes["acknowledged"],
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolution=None
        if alert.resolved_at is None
        else "auto"
        if alert.auto_resolved
        else "manual",
        resolve_note=base.resolve_note or notes["resolved"],
    )
