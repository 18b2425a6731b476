"""The alert read models' ports: the queries the API asks (`AlertReader`, with its filters and
cursors) and the writes the projection commits through (`AlertsView`, with the `AlertsChanges`
of a batch). Both live here, beside the adapters that implement both on their tables (`sqlite`,
`dynamodb`), so the code that writes a table and the code that reads it are one package.

Orderings (the same on every adapter): rules by rule id; alerts newest raised first (`raised_key`
= raise time, then alert id); the timeline by `key` = time recorded, then feed position (newest
first by default), which is the order transitions were decided in. Cursors are opaque base64url
strings of the last key returned.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.alerts.rows import AlertRow, AlertRuleRow, DeviceName, TimelineEntry, time_key
from read_side.paging import Page
from read_side.times import as_utc
from write_side.errors import InvalidInput

__all__ = [
    "ALERT_TOPIC",
    "AlertFilter",
    "AlertReader",
    "AlertsChanges",
    "AlertsView",
    "RuleFilter",
    "TimelineFilter",
    "decode_cursor",
    "encode_cursor",
]

ALERT_TOPIC = "alert"  # the change notices' topic (one per changed alert and transition)


@dataclass(frozen=True)
class RuleFilter:
    include_deleted: bool = False
    enabled: bool | None = None
    severity: str | None = None

    def matches(self, row: AlertRuleRow) -> bool:
        return (
            (self.include_deleted or not row.deleted)
            and self.enabled in (None, row.enabled)
            and self.severity in (None, row.severity)
        )


@dataclass(frozen=True)
class AlertFilter:
    severities: frozenset[str] = frozenset()  # empty: any
    states: frozenset[str] = frozenset()
    rule_id: UUID | None = None
    device_id: UUID | None = None
    raised_from: datetime | None = None
    raised_to: datetime | None = None

    def __post_init__(self) -> None:
        for name, argument in (("raised_from", "raisedFrom"), ("raised_to", "raisedTo")):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, argument))

    def matches(self, row: AlertRow) -> bool:
        return (
            (not self.severities or row.severity in self.severities)
            and (not self.states or row.state in self.states)
            and self.rule_id in (None, row.rule_id)
            and self.device_id in (None, row.device_id)
            and (self.raised_from is None or row.raised_at >= self.raised_from)
            and (self.raised_to is None or row.raised_at <= self.raised_to)
        )


@dataclass(frozen=True)
class TimelineFilter:
    device_id: UUID | None = None
    alert_id: UUID | None = None
    rule_id: UUID | None = None
    severities: frozenset[str] = frozenset()
    transitions: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()  # the state after the transition
    start: datetime | None = None  # recorded at or after (inclusive)
    end: datetime | None = None  # recorded at or before (inclusive)
    newest_first: bool = True

    def __post_init__(self) -> None:
        for name, argument in (("start", "from"), ("end", "to")):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, argument))

    def matches(self, entry: TimelineEntry) -> bool:
        return (
            self.device_id in (None, entry.device_id)
            and self.alert_id in (None, entry.alert_id)
            and self.rule_id in (None, entry.rule_id)
            and (not self.severities or entry.severity in self.severities)
            and (not self.transitions or entry.transition in self.transitions)
            and (not self.states or entry.state_after in self.states)
        )

    def key_range(self) -> tuple[str, str]:
        """Bounds of `TimelineEntry.key` for the time range (inclusive)."""
        low = time_key(self.start) if self.start else ""
        return low, (time_key(self.end) + "#~") if self.end else "~"


class AlertReader(ABC):
    """Port: queries over the alert read models; another tenant's rows are never returned."""

    @abstractmethod
    def get_rule(self, tenant_id: str, rule_id: UUID) -> AlertRuleRow | None: ...

    @abstractmethod
    def list_rules(
        self, tenant_id: str, criteria: RuleFilter, first: int, after: str | None
    ) -> Page[AlertRuleRow]: ...

    @abstractmethod
    def get_alert(self, tenant_id: str, alert_id: UUID) -> AlertRow | None: ...

    @abstractmethod
    def list_alerts(
        self, tenant_id: str, criteria: AlertFilter, first: int, after: str | None
    ) -> Page[AlertRow]: ...

    @abstractmethod
    def timeline(
        self, tenant_id: str, criteria: TimelineFilter, first: int, after: str | None
    ) -> Page[TimelineEntry]: ...

    @abstractmethod
    def timeline_entry(self, tenant_id: str, key: str) -> TimelineEntry | None: ...

    @abstractmethod
    def device_name(self, tenant_id: str, device_id: UUID) -> str | None: ...


@dataclass
class AlertsChanges:
    """The rows a batch of events changed, for `AlertsView.commit`."""

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


# Cursors ----------------------------------------------------------------------------------------


def encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The key a cursor of `kind` points after; anything else is invalid input on `after`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raw = ""
    found, sep, key = raw.partition(":")
    if found != kind or not sep or not key or len(key) > 200:
        raise InvalidInput("malformed cursor", field="after")
    return key
