"""How the alerting process manager records what its policy's commands decide.

Apart from `projections.alerting` (which keeps the state: policy, index, what each event means)
because this is the effect side: the commands grouped by alert and split into parts of at most
`max_alerts_per_call` alerts, each part decided against the alerts as stored (or as this process
last saved them) and committed in ONE `insert_events(..., tracking=...)`, only the last part
carrying the checkpoint; a conflicting stream is reloaded and decided again, a checkpoint
already past the batch means another instance did the work (`AlreadyTracked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

from event_store.envelope import EventMetadata, recording_as
from event_store.tracking import AlreadyTracked
from write_side.alert_service import PolicyCommand, apply_policy_command
from write_side.alerting_policy import OpenAlert
from write_side.alerts import Alert
from write_side.application import FleetApplication

COMMIT_RETRIES = 3


@dataclass(frozen=True)
class PendingCommand:
    command: PolicyCommand
    meta: EventMetadata


class AlertRecording:
    """The recording half of `AlertingProcess` (a base class: it shares the process's
    application, recorder, cache of open alerts and recorded checkpoint)."""

    app: FleetApplication
    recorder: ProcessRecorder
    max_alerts_per_call: int
    recorded_to: int
    _cache: dict[UUID, Alert]  # open alerts as this process last saved them

    def execute(self, pending: Sequence[PendingCommand], tracking: Tracking | None) -> None:
        """Record the commands' effects; `tracking` commits with the last part."""
        by_alert: dict[UUID, list[PendingCommand]] = {}
        for item in pending:
            by_alert.setdefault(item.command.alert_id, []).append(item)
        groups = list(by_alert.values())
        size = self.max_alerts_per_call
        parts = [groups[i : i + size] for i in range(0, len(groups), size)] or [[]]
        for number, part in enumerate(parts, start=1):
            self._commit(
                [p for group in part for p in group], tracking if number == len(parts) else None
            )

    def _commit(self, pending: list[PendingCommand], tracking: Tracking | None) -> None:
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
        self, pending: list[PendingCommand], *, fresh: bool
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
