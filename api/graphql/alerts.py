"""GraphQL alerts slice: queries `alertRule`, `alertRules`, `alert`, `alerts`, `alertTimeline`;
mutations for rules (admins) and alert actions (operators); subscription `alertChanged`.

Mutations return the object after waiting (at most 2 s) for the read model, so a following query
sees the change. `alertChanged` is fed by the alerts projection's change notices, published after
its rows commit; notices are at most once, so on any end, re-read and subscribe again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial

import strawberry
from anyio import to_thread

from api.alerts import parse_definition, parse_id, run_alert_command, run_rule_command, service
from api.auth import Permission
from api.command_path import build_command
from api.device_view import Severity
from api.graphql.alert_inputs import (
    AcknowledgeAlertInput,
    AlertFilterInput,
    AlertRuleFilterInput,
    AlertTimelineFilterInput,
    CreateAlertRuleInput,
    DeleteAlertRuleInput,
    ResolveAlertInput,
    ReviseAlertRuleInput,
)
from api.graphql.alert_types import (
    Alert,
    AlertChange,
    AlertConnection,
    AlertRule,
    AlertRuleConnection,
    AlertTimelineConnection,
    AlertTimelineEntry,
    SortOrder,
    edges_of,
)
from api.graphql.context import Info
from api.graphql.notices import tenant_notices
from read_side.alerts import ALERT_TOPIC, AlertFilter, RuleFilter, TimelineFilter
from read_side.device_status import check_page_size
from read_side.notifications import ChangeNotice
from write_side.alert_commands import (
    AcknowledgeAlert,
    CreateAlertRule,
    DeleteAlertRule,
    ResolveAlert,
    ReviseAlertRule,
)
from write_side.alert_rules import SEVERITY_RANK


@strawberry.type
class AlertQuery:
    @strawberry.field
    async def alert_rule(self, info: Info, id: strawberry.ID) -> AlertRule | None:
        caller = info.context.authorize(Permission.READ_ALERTS)
        read = partial(info.context.system.alerts.get_rule, caller.tenant_id, parse_id(id, "id"))
        row = await to_thread.run_sync(read)
        return None if row is None else AlertRule.from_row(row)

    @strawberry.field
    async def alert_rules(
        self,
        info: Info,
        filter: AlertRuleFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AlertRuleConnection:
        caller = info.context.authorize(Permission.READ_ALERTS)
        criteria = RuleFilter() if filter is None else filter.to_filter()
        reader = info.context.system.alerts
        read = partial(reader.list_rules, caller.tenant_id, criteria, check_page_size(first), after)
        page = await to_thread.run_sync(read)
        edges, page_info = edges_of(page, AlertRule.from_row, lambda r: r.rule_id.hex, "r")
        return AlertRuleConnection(edges=edges, page_info=page_info)

    @strawberry.field
    async def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        caller = info.context.authorize(Permission.READ_ALERTS)
        read = partial(info.context.system.alerts.get_alert, caller.tenant_id, parse_id(id, "id"))
        row = await to_thread.run_sync(read)
        return None if row is None else Alert.from_row(row)

    @strawberry.field
    async def alerts(
        self,
        info: Info,
        filter: AlertFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AlertConnection:
        """Newest raised first."""
        caller = info.context.authorize(Permission.READ_ALERTS)
        criteria = AlertFilter() if filter is None else filter.to_filter()
        reader = info.context.system.alerts
        read = partial(
            reader.list_alerts, caller.tenant_id, criteria, check_page_size(first), after
        )
        page = await to_thread.run_sync(read)
        edges, page_info = edges_of(page, Alert.from_row, lambda a: a.raised_key, "a")
        return AlertConnection(edges=edges, page_info=page_info)

    @strawberry.field
    async def alert_timeline(
        self,
        info: Info,
        filter: AlertTimelineFilterInput | None = None,
        order: SortOrder = SortOrder.NEWEST_FIRST,
        first: int = 50,
        after: str | None = None,
    ) -> AlertTimelineConnection:
        """Every transition of the tenant's alerts (per device, alert or rule with the filter),
        in the order they were recorded; consecutive repeats of an alert are one entry."""
        caller = info.context.authorize(Permission.READ_ALERTS)
        newest_first = order is SortOrder.NEWEST_FIRST
        criteria = (
            TimelineFilter(newest_first=newest_first)
            if filter is None
            else filter.to_filter(newest_first)
        )
        reader = info.context.system.alerts
        read = partial(reader.timeline, caller.tenant_id, criteria, check_page_size(first), after)
        page = await to_thread.run_sync(read)
        edges, page_info = edges_of(page, AlertTimelineEntry.from_entry, lambda e: e.key, "t")
        return AlertTimelineConnection(edges=edges, page_info=page_info)


@strawberry.type
class AlertMutation:
    @strawberry.mutation
    async def create_alert_rule(self, info: Info, input: CreateAlertRuleInput) -> AlertRule:
        caller = info.context.authorize(Permission.WRITE_RULES)
        definition = parse_definition(input.definition.to_dict(), "definition")
        system = info.context.system
        command = CreateAlertRule(definition=definition)
        row = await run_rule_command(system, caller, service(system).create_rule, command)
        return AlertRule.from_row(row)

    @strawberry.mutation
    async def revise_alert_rule(self, info: Info, input: ReviseAlertRuleInput) -> AlertRule:
        caller = info.context.authorize(Permission.WRITE_RULES)
        command = build_command(
            ReviseAlertRule,
            {
                "rule_id": parse_id(input.id, "id"),
                "definition": parse_definition(input.definition.to_dict(), "definition"),
                "expected_version": input.expected_version,
            },
        )
        system = info.context.system
        row = await run_rule_command(system, caller, service(system).revise_rule, command)
        return AlertRule.from_row(row)

    @strawberry.mutation
    async def delete_alert_rule(self, info: Info, input: DeleteAlertRuleInput) -> AlertRule:
        """Soft delete: the rule stops raising and its open alerts are resolved."""
        caller = info.context.authorize(Permission.WRITE_RULES)
        command = build_command(
            DeleteAlertRule,
            {"rule_id": parse_id(input.id, "id"), "expected_version": input.expected_version},
        )
        system = info.context.system
        row = await run_rule_command(system, caller, service(system).delete_rule, command)
        return AlertRule.from_row(row)

    @strawberry.mutation
    async def acknowledge_alert(self, info: Info, input: AcknowledgeAlertInput) -> Alert:
        caller = info.context.authorize(Permission.WRITE_ALERTS)
        command = build_command(
            AcknowledgeAlert,
            {
                "alert_id": parse_id(input.id, "id"),
                "note": input.note,
                "expected_version": input.expected_version,
            },
        )
        system = info.context.system
        row = await run_alert_command(system, caller, service(system).acknowledge, command)
        return Alert.from_row(row)

    @strawberry.mutation
    async def resolve_alert(self, info: Info, input: ResolveAlertInput) -> Alert:
        caller = info.context.authorize(Permission.WRITE_ALERTS)
        command = build_command(
            ResolveAlert,
            {
                "alert_id": parse_id(input.id, "id"),
                "note": input.note,
                "expected_version": input.expected_version,
            },
        )
        system = info.context.system
        row = await run_alert_command(system, caller, service(system).resolve, command)
        return Alert.from_row(row)


@strawberry.type
class AlertSubscription:
    @strawberry.subscription
    async def alert_changed(
        self,
        info: Info,
        severity: Severity | None = None,
        device_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[AlertChange, None]:
        """Every change to the tenant's alerts from now on; `severity`: this severity or
        higher; `deviceId`: one device's alerts only."""
        caller = info.context.authorize(Permission.READ_ALERTS)
        device = None if device_id is None else str(parse_id(device_id, "deviceId"))
        lowest = 0 if severity is None else SEVERITY_RANK[severity.value]

        def keep(notice: ChangeNotice) -> bool:
            data = notice.data
            return device in (None, data.get("device_id")) and (
                SEVERITY_RANK.get(str(data.get("severity")), 0) >= lowest
            )

        notices = tenant_notices(
            info.context.system, caller, ALERT_TOPIC, Permission.READ_ALERTS, keep
        )
        async with aclosing(notices):
            async for notice in notices:
                yield AlertChange.from_notice(notice)
