"""The alerts application service: alert rules (create, revise, delete) and alert handling
(acknowledge, resolve), plus the decisions behind the alerting policy's commands.

Every load checks the caller's tenant: another tenant's rule or alert is `NotFound`. Acknowledge
and resolve carry no expected version unless the caller gives one, so a lost race (the policy
recorded a repeat meanwhile) reloads and retries (`application.retried`, `CONFLICT_RETRIES`
attempts) before answering CONFLICT.

`apply_policy_command` is what the alerting process manager records for each policy command; it
is idempotent against the alert's state, so a replayed or duplicated command records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.alert_commands import (
    AcknowledgeAlert,
    CreateAlertRule,
    DeleteAlertRule,
    ResolveAlert,
    ReviseAlertRule,
)
from write_side.alert_rules import AlertRule
from write_side.alerting_watch import AlertCommand, AutoResolve, OpenAlert, RecordRepeat
from write_side.alerts import Alert
from write_side.application import FleetApplication, Saved, check_version, retried
from write_side.errors import AlertAlreadyResolved


@dataclass(frozen=True)
class EscalateAlert:
    """Raise an open alert's severity (its rule was revised to a higher one)."""

    alert_id: UUID
    severity: str
    at: datetime


PolicyCommand = AlertCommand | EscalateAlert


class AlertService:
    """The alerts slice's command handlers, in the style of every slice (section 3.1 of
    docs/write-side.md): load, check the expected version, decide, `commit`."""

    def __init__(self, app: FleetApplication, clock: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self.clock = clock or (lambda: datetime.now(UTC))

    # Rules -------------------------------------------------------------------------------------

    def create_rule(self, command: CreateAlertRule, meta: EventMetadata) -> Saved[AlertRule]:
        return self.app.commit(AlertRule.create(meta.tenant_id, command.definition), meta)

    def revise_rule(self, command: ReviseAlertRule, meta: EventMetadata) -> Saved[AlertRule]:
        """Saved(rule, 0) when the definition is unchanged (nothing recorded)."""
        rule = self.get_rule(meta.tenant_id, command.rule_id)
        check_version(rule, command.expected_version)
        rule.revise(command.definition)
        return self.app.commit(rule, meta)

    def delete_rule(self, command: DeleteAlertRule, meta: EventMetadata) -> Saved[AlertRule]:
        rule = self.get_rule(meta.tenant_id, command.rule_id)
        check_version(rule, command.expected_version)
        rule.delete()
        return self.app.commit(rule, meta)

    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRule:
        return self.app.load(AlertRule, tenant_id, rule_id)

    # Alerts ------------------------------------------------------------------------------------

    def acknowledge(self, command: AcknowledgeAlert, meta: EventMetadata) -> Saved[Alert]:
        def attempt() -> Saved[Alert]:
            alert = self.get_alert(meta.tenant_id, command.alert_id)
            check_version(alert, command.expected_version)
            alert.acknowledge(meta.actor, self.clock(), command.note)
            return self.app.commit(alert, meta)

        return retried(attempt, retry=command.expected_version is None)

    def resolve(self, command: ResolveAlert, meta: EventMetadata) -> Saved[Alert]:
        def attempt() -> Saved[Alert]:
            alert = self.get_alert(meta.tenant_id, command.alert_id)
            check_version(alert, command.expected_version)
            alert.resolve(meta.actor, self.clock(), command.note)
            return self.app.commit(alert, meta)

        return retried(attempt, retry=command.expected_version is None)

    def get_alert(self, tenant_id: str, alert_id: UUID) -> Alert:
        return self.app.load(Alert, tenant_id, alert_id)


def apply_policy_command(alert: Alert | None, command: PolicyCommand) -> Alert | None:
    """The alert with the command's event pending, or None when there is nothing to record.

    `alert` is the alert as stored (None when its stream does not exist). Idempotent: an open
    whose alert exists with the same raise time, a repeat not newer than the alert's last one,
    a resolve of a resolved alert and anything on a resolved alert record nothing. An open whose
    alert exists otherwise (another raiser won the stream's first version) counts as a repeat.
    """
    if isinstance(command, OpenAlert):
        if alert is None:
            return Alert.open(
                tenant_id=command.tenant_id,
                rule_id=command.rule_id,
                rule_revision=command.rule_revision,
                device_id=command.device_id,
                episode=command.episode,
                severity=command.severity,
                value=command.value,
                at=command.at,
                peak_mode=command.peak_mode,
            )
        if alert.raised_at == command.at or command.value is None:
            return None
        return _repeat(alert, command.value, command.at)
    if alert is None or alert.status == "resolved":
        return None
    if isinstance(command, RecordRepeat):
        return _repeat(alert, command.value, command.at)
    if isinstance(command, AutoResolve):
        return alert if alert.auto_resolve(command.at, command.value, command.note) else None
    try:
        return alert if alert.escalate(command.severity, command.at) else None
    except AlertAlreadyResolved:  # pragma: no cover - checked above
        return None


def _repeat(alert: Alert, value: float, at: datetime) -> Alert | None:
    if alert.status == "resolved" or at <= alert.last_at:
        return None
    alert.repeat(value, at)
    return alert
