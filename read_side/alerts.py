"""The alert read models: alert rules (current revision, with their history), alerts (current
state of each) and the alert timeline (every transition, in the order recorded). Types and the
reader port.

Orderings (the same on every adapter): rules by rule id; alerts newest raised first (`raised_key`
= raise time, then alert id); the timeline by `key` = time recorded, then feed position (newest
first by default), which is the order transitions were decided in. Cursors are opaque base64url
strings of the last key returned.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from read_side.alert_records import dumps, from_record, loads, to_record
from read_side.paging import Page
from read_side.times import as_utc
from write_side.errors import InvalidInput
from write_side.severity import SEVERITIES

__all__ = [  # the records codec (`read_side.alert_records`) and the severities are re-exported
    "ALERT_TOPIC",
    "SEVERITIES",
    "STATES",
    "TRANSITIONS",
    "AlertFilter",
    "AlertReader",
    "AlertRow",
    "AlertRuleRow",
    "DeviceName",
    "RuleFilter",
    "TimelineEntry",
    "TimelineFilter",
    "check_choices",
    "decode_cursor",
    "dumps",
    "encode_cursor",
    "from_record",
    "loads",
    "time_key",
    "to_record",
]

STATES = ("open", "acknowledged", "resolved")
TRANSITIONS = ("raised", "repeated", "acknowledged", "resolved", "escalated")
ALERT_TOPIC = "alert"


def time_key(at: datetime) -> str:
    """A sortable, fixed-width UTC text form of a time. The year is padded here: `%Y` leaves
    years before 1000 short on Linux ("999-"), which sorted after "2026-" as a bound."""
    utc = at.astimezone(UTC)
    return f"{utc.year:04d}{utc.strftime('-%m-%dT%H:%M:%S.%fZ')}"


@dataclass(frozen=True)
class AlertRuleRow:
    tenant_id: str
    rule_id: UUID
    revision: int
    name: str
    severity: str
    enabled: bool
    deleted: bool
    definition: dict[str, Any]  # the current RuleDefinition as JSON values
    revisions: list[dict[str, Any]]  # {revision, definition, revised_at, revised_by}, oldest first
    version: int  # the aggregate's version (for expectedVersion)
    created_at: datetime
    updated_at: datetime
    position: int

    def definition_of(self, revision: int) -> dict[str, Any] | None:
        found = [r["definition"] for r in self.revisions if r["revision"] == revision]
        return found[0] if found else None


@dataclass(frozen=True)
class AlertRow:
    tenant_id: str
    alert_id: UUID
    rule_id: UUID
    rule_revision: int
    rule_name: str
    device_id: UUID
    device_name: str
    episode: int
    severity: str
    state: str  # open | acknowledged | resolved
    kind: str  # the rule's condition kind at its revision
    metric: str | None
    trigger_value: float | None
    threshold: float | None
    condition_text: str
    raised_at: datetime
    count: int
    last_value: float | None
    peak_value: float | None
    last_at: datetime
    version: int  # the alert's stream version (the row's guard)
    position: int
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_note: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None  # manual | auto | rule_deleted | rule_out_of_scope | ...
    resolve_note: str | None = None
    repeat_run: str | None = None  # timeline key of the current run of repeats

    @property
    def raised_key(self) -> str:
        return f"{time_key(self.raised_at)}#{self.alert_id.hex}"


@dataclass(frozen=True)
class TimelineEntry:
    """One transition; consecutive repeats of an alert are one entry (`count`, `last_at`)."""

    tenant_id: str
    key: str  # time_key(at) + "#" + feed position: unique, sortable
    event_id: UUID
    alert_id: UUID
    device_id: UUID
    rule_id: UUID
    severity: str
    transition: str
    state_after: str
    actor: str
    at: datetime  # when it happened: the reading's time, or the operator's action
    recorded_at: datetime  # when it was decided and recorded (the order of the timeline)
    position: int
    note: str | None = None
    value: float | None = None
    count: int = 1
    last_at: datetime | None = None


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
        for name, field in (("raised_from", "raisedFrom"), ("raised_to", "raisedTo")):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, field))

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
        for name, field in (("start", "from"), ("end", "to")):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, field))

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


@dataclass(frozen=True)
class DeviceName:
    tenant_id: str
    device_id: UUID
    name: str


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


def check_choices(
    values: Sequence[str] | None, allowed: Sequence[str], name: str
) -> frozenset[str]:
    chosen = frozenset(values or ())
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown {name} {', '.join(unknown)}", field=name)
    return chosen
