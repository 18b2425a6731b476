"""The Alert aggregate: one episode of one rule firing for one device.

The id is derived from (tenant, rule, device, episode), so two workers raising "the same" alert
collide on the stream's first version instead of opening two. Lifecycle: open -> acknowledged ->
resolved (an open alert may also be resolved directly); a resolved alert never changes again, and
a recurrence is a new alert with the next episode. Times in events are ISO 8601 strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from write_side.alert_lifecycle import AlertStatus
from write_side.alert_rules import SEVERITY_RANK
from write_side.errors import AlertAlreadyAcknowledged, AlertAlreadyResolved, InvalidInput
from write_side.event_names import event_name

ALERT_NAMESPACE = UUID("5b0f6a52-2f0e-4c38-9a37-6f1d0c8e4a11")  # never change: ids depend on it
AUTO_ACTOR = "system:auto"
MAX_NOTE = 2000
PeakMode = Literal["highest", "lowest"]  # which way is worse, for `peak`


def alert_id(tenant_id: str, rule_id: UUID | str, device_id: UUID | str, episode: int) -> UUID:
    return uuid.uuid5(ALERT_NAMESPACE, f"{tenant_id}/{rule_id}/{device_id}/{episode}")


class Alert(Aggregate):
    """Create with `Alert.open(...)`; the other methods check the lifecycle, then record."""

    @staticmethod
    def create_id(tenant_id: str, rule_id: str, device_id: str, episode: int) -> UUID:
        return alert_id(tenant_id, rule_id, device_id, episode)

    @classmethod
    def open(
        cls,
        *,
        tenant_id: str,
        rule_id: UUID,
        rule_revision: int,
        device_id: UUID,
        episode: int,
        severity: str,
        value: float | None,
        at: datetime,
        peak_mode: PeakMode = "highest",
    ) -> Alert:
        if episode < 1 or rule_revision < 1 or severity not in SEVERITY_RANK:
            raise InvalidInput("episode and rule_revision start at 1; severity must be known")
        return cls(
            tenant_id=tenant_id,
            rule_id=str(rule_id),
            rule_revision=rule_revision,
            device_id=str(device_id),
            episode=episode,
            severity=severity,
            value=value,
            at=at.isoformat(),
            peak_mode=peak_mode,
        )

    @event("Raised")
    def __init__(
        self,
        *,
        tenant_id: str,
        rule_id: str,
        rule_revision: int,
        device_id: str,
        episode: int,
        severity: str,
        value: float | None,
        at: str,
        peak_mode: str,
    ) -> None:
        self.tenant_id, self.rule_revision, self.episode = tenant_id, rule_revision, episode
        self.rule_id, self.device_id = UUID(rule_id), UUID(device_id)
        self.severity, self.peak_mode = severity, peak_mode
        self.status: AlertStatus = "open"
        self.raised_at = self.last_at = datetime.fromisoformat(at)
        self.count, self.last_value, self.peak = 1, value, value
        self.acknowledged_by: str | None = None
        self.acknowledged_at: datetime | None = None
        self.resolved_by: str | None = None
        self.resolved_at: datetime | None = None
        self.auto_resolved = False
        self.notes: list[str] = []

    def repeat(self, value: float, at: datetime) -> None:
        """The condition is still met: count it, keep the last value and the peak."""
        self._refuse_if_resolved()
        peak = value if self.peak is None else self._worse(self.peak, value)
        self._repeated(value=value, at=at.isoformat(), count=self.count + 1, peak=peak)

    def acknowledge(self, actor: str, at: datetime, note: str | None = None) -> None:
        """Raises `AlertAlreadyAcknowledged` on a second acknowledgement (the first one stands)."""
        self._refuse_if_resolved()
        if self.status == "acknowledged":
            raise AlertAlreadyAcknowledged(
                f"alert {self.id} was acknowledged by {self.acknowledged_by}"
            )
        self._acknowledged(actor=_actor(actor), note=_note(note), at=at.isoformat())

    def resolve(self, actor: str, at: datetime, note: str | None = None) -> None:
        self._refuse_if_resolved()
        self._resolved(
            actor=_actor(actor), note=_note(note), at=at.isoformat(), auto=False, value=None
        )

    def auto_resolve(self, at: datetime, value: float | None, note: str | None = None) -> bool:
        """The clear condition holds. False (a no-op) when someone resolved the alert already."""
        if self.status == "resolved":
            return False
        self._resolved(
            actor=AUTO_ACTOR, note=_note(note), at=at.isoformat(), auto=True, value=value
        )
        return True

    def escalate(self, severity: str, at: datetime) -> bool:
        """Raise the severity; False (a no-op) when it is not higher than the current one."""
        self._refuse_if_resolved()
        if severity not in SEVERITY_RANK:
            raise InvalidInput(f"unknown severity {severity!r}", "severity")
        if SEVERITY_RANK[severity] <= SEVERITY_RANK[self.severity]:
            return False
        self._escalated(severity=severity, at=at.isoformat())
        return True

    def _worse(self, a: float, b: float) -> float:
        return max(a, b) if self.peak_mode == "highest" else min(a, b)

    def _refuse_if_resolved(self) -> None:
        if self.status == "resolved":
            raise AlertAlreadyResolved(f"alert {self.id} is resolved; a recurrence is a new alert")

    @event("Repeated")
    def _repeated(self, *, value: float, at: str, count: int, peak: float) -> None:
        self.last_value, self.last_at = value, datetime.fromisoformat(at)
        self.count, self.peak = count, peak

    @event("Acknowledged")
    def _acknowledged(self, *, actor: str, note: str | None, at: str) -> None:
        self.status = "acknowledged"
        self.acknowledged_by, self.acknowledged_at = actor, datetime.fromisoformat(at)
        self.notes += [note] if note else []

    @event("Resolved")
    def _resolved(
        self, *, actor: str, note: str | None, at: str, auto: bool, value: float | None
    ) -> None:
        self.status = "resolved"
        self.resolved_by, self.resolved_at = actor, datetime.fromisoformat(at)
        self.auto_resolved = auto
        self.last_value = value if auto else self.last_value
        self.notes += [note] if note else []

    @event("Escalated")
    def _escalated(self, *, severity: str, at: str) -> None:
        self.severity = severity


def _actor(actor: str) -> str:
    if not actor.strip():
        raise InvalidInput("an actor is required", "actor")
    return actor


def _note(note: str | None) -> str | None:
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"a note has at most {MAX_NOTE} characters", "note")
    return note


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
ALERT_RAISED = event_name(Alert, "Raised")
ALERT_REPEATED = event_name(Alert, "Repeated")
ALERT_ACKNOWLEDGED = event_name(Alert, "Acknowledged")
ALERT_RESOLVED = event_name(Alert, "Resolved")
ALERT_ESCALATED = event_name(Alert, "Escalated")
ALERT_EVENTS = (ALERT_RAISED, ALERT_REPEATED, ALERT_ACKNOWLEDGED, ALERT_RESOLVED, ALERT_ESCALATED)
