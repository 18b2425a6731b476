"""GraphQL output types of the alerts slice (docs/api.md section 13.5), built from the rows of
`read_side.alerts`. `Alert.rule` and `Alert.timeline` read the caller's tenant only. The
rules' types are in `alert_rule_types`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Any, Generic, TypeVar

import strawberry
from anyio import to_thread

from api.auth import Permission
from api.device_view import Severity
from api.graphql.alert_rule_types import (
    AlertRule,
    ConditionKind,
)
from api.graphql.context import Info
from api.graphql.scalars import Long
from api.graphql.types import PageInfo
from read_side.alerts import (
    AlertRow,
    TimelineEntry,
    TimelineFilter,
    encode_cursor,
    from_record,
)
from read_side.device_status import Page
from read_side.notifications import ChangeNotice
from write_side.alerts import Alert as AlertAggregate
from write_side.event_names import type_prefix

T = TypeVar("T")
_KINDS = frozenset({"threshold", "for_duration", "absence", "rate_of_change"})

ALERT_TYPE_PREFIX = type_prefix(AlertAggregate)  # "Alert.": a transition's name follows it


@strawberry.enum
class AlertState(Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.enum
class AlertResolution(Enum):
    MANUAL = "manual"
    AUTO = "auto"
    RULE_DELETED = "rule_deleted"
    RULE_DISABLED = "rule_disabled"
    RULE_OUT_OF_SCOPE = "rule_out_of_scope"
    DEVICE_DECOMMISSIONED = "device_decommissioned"


@strawberry.enum
class AlertTransition(Enum):
    RAISED = "raised"
    REPEATED = "repeated"  # consecutive repeats are one entry (count, lastAt)
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.enum
class SortOrder(Enum):
    NEWEST_FIRST = "newest_first"
    OLDEST_FIRST = "oldest_first"


@strawberry.type
class AlertTimelineEntry:
    event_id: strawberry.ID
    alert_id: strawberry.ID
    device_id: strawberry.ID
    rule_id: strawberry.ID
    severity: Severity
    transition: AlertTransition
    state_after: AlertState
    actor: str
    note: str | None
    value: float | None
    count: int = strawberry.field(description="Repeats in this entry (1 for the others).")
    at: datetime = strawberry.field(description="When it happened (reading or action time).")
    last_at: datetime | None
    recorded_at: datetime = strawberry.field(description="When it was recorded (the order).")
    position: Long

    @classmethod
    def from_entry(cls, e: TimelineEntry) -> AlertTimelineEntry:
        return cls(
            event_id=strawberry.ID(str(e.event_id)), alert_id=strawberry.ID(str(e.alert_id)),
            device_id=strawberry.ID(str(e.device_id)), rule_id=strawberry.ID(str(e.rule_id)),
            severity=Severity(e.severity), transition=AlertTransition(e.transition),
            state_after=AlertState(e.state_after), actor=e.actor, note=e.note, value=e.value,
            count=e.count, at=e.at, last_at=e.last_at, recorded_at=e.recorded_at,
            position=Long(e.position),
        )  # fmt: skip


@strawberry.type
class Alert:
    id: strawberry.ID
    rule_id: strawberry.ID
    rule_revision: int
    rule_name: str
    device_id: strawberry.ID
    device_name: str
    episode: int
    severity: Severity
    state: AlertState
    kind: ConditionKind | None = strawberry.field(
        description="The rule's condition kind at the revision raised (null if unknown)."
    )
    metric: str | None
    trigger_value: float | None
    threshold: float | None
    condition_text: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: AlertResolution | None
    resolve_note: str | None
    count: int
    last_value: float | None
    peak_value: float | None
    last_at: datetime
    version: int
    row: strawberry.Private[AlertRow]

    @strawberry.field
    async def rule(self, info: Info) -> AlertRule | None:
        """The rule as it is now (deleted rules included); `ruleRevision` is the one raised."""
        caller = info.context.authorize(Permission.READ_ALERTS)
        read = partial(info.context.system.alerts.get_rule, caller.tenant_id, self.row.rule_id)
        found = await to_thread.run_sync(read)
        return None if found is None else AlertRule.from_row(found)

    @strawberry.field
    async def timeline(self, info: Info) -> list[AlertTimelineEntry]:
        """Every transition of this alert, oldest first (at most 500)."""
        caller = info.context.authorize(Permission.READ_ALERTS)
        criteria = TimelineFilter(alert_id=self.row.alert_id, newest_first=False)
        reader = info.context.system.alerts
        page = await to_thread.run_sync(reader.timeline, caller.tenant_id, criteria, 500, None)
        return [AlertTimelineEntry.from_entry(e) for e in page.items]

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        return cls(
            id=strawberry.ID(str(row.alert_id)), rule_id=strawberry.ID(str(row.rule_id)),
            rule_revision=row.rule_revision, rule_name=row.rule_name,
            device_id=strawberry.ID(str(row.device_id)), device_name=row.device_name,
            episode=row.episode, severity=Severity(row.severity), state=AlertState(row.state),
            kind=ConditionKind(row.kind) if row.kind in _KINDS else None, metric=row.metric,
            trigger_value=row.trigger_value,
            threshold=row.threshold, condition_text=row.condition_text, raised_at=row.raised_at,
            acknowledged_at=row.acknowledged_at, acknowledged_by=row.acknowledged_by,
            acknowledge_note=row.acknowledge_note, resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            resolution=AlertResolution(row.resolution) if row.resolution else None,
            resolve_note=row.resolve_note, count=row.count, last_value=row.last_value,
            peak_value=row.peak_value, last_at=row.last_at, version=row.version, row=row,
        )  # fmt: skip


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class AlertRuleConnection:
    edges: list[Edge[AlertRule]]
    page_info: PageInfo


@strawberry.type
class AlertConnection:
    edges: list[Edge[Alert]]
    page_info: PageInfo


@strawberry.type
class AlertTimelineConnection:
    edges: list[Edge[AlertTimelineEntry]]
    page_info: PageInfo


def edges_of(
    page: Page[Any], node: Callable[[Any], T], key: Callable[[Any], str], kind: str
) -> tuple[list[Edge[T]], PageInfo]:
    edges = [Edge(cursor=encode_cursor(kind, key(item)), node=node(item)) for item in page.items]
    info = PageInfo(
        has_next_page=page.next_cursor is not None,
        end_cursor=page.next_cursor or (edges[-1].cursor if edges else None),
    )
    return edges, info


@strawberry.type
class AlertChange:
    alert: Alert
    transition: AlertTransition | None
    event_type: str
    position: Long
    cursor: str

    @classmethod
    def from_notice(cls, notice: ChangeNotice) -> AlertChange:
        row = from_record(AlertRow, notice.data)
        kind = notice.event_type.removeprefix(ALERT_TYPE_PREFIX).lower()
        transition = AlertTransition(kind) if kind in AlertTransition._value2member_map_ else None
        return cls(
            alert=Alert.from_row(row), transition=transition, event_type=notice.event_type,
            position=Long(notice.position), cursor=str(notice.position),
        )  # fmt: skip
