"""What rule, device and alert events mean to the alerting process manager's state.

Apart from `projections.alerting` (the process: the worker's interface, deciding per event,
rebuilding) because this is the bookkeeping of facts, not of readings: rules and device facts
go into the `RuleIndex`, raised and resolved alerts into the policy's watches, and a new
absence rule or device primes its absence timers (only when live, not while rebuilding; the
rebuild primes every device once at its end). No I/O: the few commands a rule event calls for
(retire a deleted rule's alerts, escalate on a raised severity) are returned, not recorded.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventEnvelope
from projections.alerting_index import RuleIndex
from write_side.alert_rules import (
    RULE_DELETED,
    RULE_REVISED,
    SEVERITY_RANK,
    Absence,
    RuleDefinition,
    RuleVersion,
)
from write_side.alert_service import EscalateAlert, PolicyCommand
from write_side.alerting_policy import AlertingPolicy, DeviceFacts
from write_side.alerts import ALERT_RAISED, ALERT_RESOLVED, Alert
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED
from write_side.telemetry import TelemetryBatch

log = logging.getLogger("projections.alerting")  # the process's logger, as before the split


class AlertFacts:
    """The fact-keeping half of `AlertingProcess` (a base class: it shares the process's
    policy, index, cache of open alerts and whether it is live)."""

    policy: AlertingPolicy
    index: RuleIndex
    _cache: dict[UUID, Alert]
    _live: bool

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
                    for w in self.policy.open_watches()
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
