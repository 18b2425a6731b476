"""GraphQL output types of the alerts slice (docs/api.md section 13.5), derived from the one
definition of each in `api.alert_view` (`api.graphql.derive`): only `Alert.rule` and
`Alert.timeline` are spelled out here, as they read more of the read model (the caller's tenant
only), and the connections and the change payload around them."""

from __future__ import annotations

import strawberry
from anyio import to_thread

from api.alert_inputs import SortOrder
from api.alert_view import (
    AlertPublic,
    AlertRulePublic,
    AlertTransition,
    ComparisonPublic,
    ConditionPublic,
    RuleRevisionPublic,
    RuleScopePublic,
    TimelineEntryPublic,
)
from api.auth import Permission
from api.graphql.context import Info
from api.graphql.derive import derived_type, graphql_enum, part_type, registered
from api.graphql.scalars import Long
from api.graphql.types import Connection
from read_side.alerts import (
    AlertReader,
    AlertRow,
    AlertRuleRow,
    TimelineEntry,
    TimelineFilter,
    from_record,
)
from read_side.notifications import ChangeNotice
from write_side.alerts import Alert as AlertAggregate
from write_side.event_names import type_prefix

ALERT_TYPE_PREFIX = type_prefix(AlertAggregate)  # "Alert.": a transition's name follows it


graphql_enum(SortOrder)

# The rule's parts, shown only as its fields.
for _part, _name in (
    (RuleScopePublic, "RuleScope"),
    (ComparisonPublic, "Comparison"),
    (ConditionPublic, "Condition"),
    (RuleRevisionPublic, "AlertRuleRevision"),
):
    part_type(_part, _name)


@derived_type(AlertRulePublic, name="AlertRule", omit=("definition",))
class AlertRule:
    view: strawberry.Private[AlertRulePublic]

    @classmethod
    def from_row(cls, row: AlertRuleRow) -> AlertRule:
        return cls(view=AlertRulePublic.from_row(row))


@derived_type(TimelineEntryPublic, name="AlertTimelineEntry")
class AlertTimelineEntry:
    view: strawberry.Private[TimelineEntryPublic]

    @classmethod
    def from_entry(cls, e: TimelineEntry) -> AlertTimelineEntry:
        return cls(view=TimelineEntryPublic.from_entry(e))


@derived_type(AlertPublic, name="Alert")
class Alert:
    view: strawberry.Private[AlertPublic]

    @strawberry.field
    async def rule(self, info: Info) -> AlertRule | None:
        """The rule as it is now (deleted rules included); `ruleRevision` is the one raised."""
        alerts, tenant = reader(info)
        found = await to_thread.run_sync(alerts.get_rule, tenant, self.view.rule_id)
        return None if found is None else AlertRule.from_row(found)

    @strawberry.field
    async def timeline(self, info: Info) -> list[AlertTimelineEntry]:
        """Every transition of this alert, oldest first (at most 500)."""
        alerts, tenant = reader(info)
        criteria = TimelineFilter(alert_id=self.view.id, newest_first=False)
        page = await to_thread.run_sync(alerts.timeline, tenant, criteria, 500, None)
        return [AlertTimelineEntry.from_entry(e) for e in page.items]

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        return cls(view=AlertPublic.from_row(row))


@registered
@strawberry.type
class AlertTimelineConnection(Connection[AlertTimelineEntry]):  # the schema's name, as always
    pass


def reader(info: Info) -> tuple[AlertReader, str]:
    """The alerts' reader and the caller's tenant, once the caller may read alerts."""
    caller = info.context.authorize(Permission.READ_ALERTS)
    return info.context.system.alerts, caller.tenant_id


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
