"""GraphQL alerts slice: queries `alertRule`, `alertRules`, `alert`, `alerts`, `alertTimeline`;
mutations for rules (admins) and alert actions (operators); subscription `alertChanged`.

Mutations return the object after waiting (at most 2 s) for the read model, so a following query
sees the change. `alertChanged` is fed by the alerts projection's change notices, published after
its rows commit; notices are at most once, so on any end, re-read and subscribe again."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from anyio import to_thread

from api import alert_inputs as shapes
from api.alerts import action_fields, parse_id, run_alert_command, run_rule_command, service
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
    query_of,
)
from api.graphql.alert_types import (
    Alert,
    AlertChange,
    AlertRule,
    AlertTimelineConnection,
    AlertTimelineEntry,
    Connection,
    SortOrder,
    reader,
)
from api.graphql.context import Info
from api.graphql.derive import model_of
from api.graphql.notices import tenant_notices
from read_side.alerts import ALERT_TOPIC
from read_side.notifications import ChangeNotice
from read_side.paging import check_page_size
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
        alerts, tenant = reader(info)
        row = await to_thread.run_sync(alerts.get_rule, tenant, parse_id(id, "id"))
        return None if row is None else AlertRule.from_row(row)

    @strawberry.field
    async def alert_rules(
        self,
        info: Info,
        filter: AlertRuleFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AlertRule]:
        alerts, tenant = reader(info)
        chosen = query_of(filter, shapes.RuleQuery).criteria()
        size = check_page_size(first)
        page = await to_thread.run_sync(alerts.list_rules, tenant, chosen, size, after)
        return Connection.of(page, AlertRule.from_row, lambda r: r.rule_id.hex, "r")

    @strawberry.field
    async def alert(self, info: Info, id: strawberry.ID) -> Alert | None:
        alerts, tenant = reader(info)
        row = await to_thread.run_sync(alerts.get_alert, tenant, parse_id(id, "id"))
        return None if row is None else Alert.from_row(row)

    @strawberry.field
    async def alerts(
        self,
        info: Info,
        filter: AlertFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Alert]:
        """Newest raised first."""
        alerts, tenant = reader(info)
        chosen = query_of(filter, shapes.AlertQuery).criteria()
        size = check_page_size(first)
        page = await to_thread.run_sync(alerts.list_alerts, tenant, chosen, size, after)
        return Connection.of(page, Alert.from_row, lambda a: a.raised_key, "a")

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
        alerts, tenant = reader(info)
        chosen = query_of(filter, shapes.TimelineQuery).criteria(order is SortOrder.NEWEST_FIRST)
        size = check_page_size(first)
        page = await to_thread.run_sync(alerts.timeline, tenant, chosen, size, after)
        return AlertTimelineConnection.of(page, AlertTimelineEntry.from_entry, lambda e: e.key, "t")


@strawberry.type
class AlertMutation:
    @strawberry.mutation
    async def create_alert_rule(self, info: Info, input: CreateAlertRuleInput) -> AlertRule:
        caller, system = info.context.authorize(Permission.WRITE_RULES), info.context.system
        definition = model_of(input, shapes.RuleCreate).definition.checked("definition")
        command = CreateAlertRule(definition=definition)
        row = await run_rule_command(system, caller, service(system).create_rule, command)
        return AlertRule.from_row(row)

    @strawberry.mutation
    async def revise_alert_rule(self, info: Info, input: ReviseAlertRuleInput) -> AlertRule:
        caller, system = info.context.authorize(Permission.WRITE_RULES), info.context.system
        rule_id, shape = parse_id(input.id, "id"), model_of(input, shapes.RuleRevise)
        definition = shape.definition.checked("definition")
        fields = {"rule_id": rule_id, "definition": definition}
        command = build_command(
            ReviseAlertRule, fields | {"expected_version": shape.expected_version}
        )
        row = await run_rule_command(system, caller, service(system).revise_rule, command)
        return AlertRule.from_row(row)

    @strawberry.mutation
    async def delete_alert_rule(self, info: Info, input: DeleteAlertRuleInput) -> AlertRule:
        """Soft delete: the rule stops raising and its open alerts are resolved."""
        caller, system = info.context.authorize(Permission.WRITE_RULES), info.context.system
        rule_id, shape = parse_id(input.id, "id"), model_of(input, shapes.RuleDelete)
        command = build_command(DeleteAlertRule, shape.model_dump() | {"rule_id": rule_id})
        row = await run_rule_command(system, caller, service(system).delete_rule, command)
        return AlertRule.from_row(row)

    @strawberry.mutation
    async def acknowledge_alert(self, info: Info, input: AcknowledgeAlertInput) -> Alert:
        caller, system = info.context.authorize(Permission.WRITE_ALERTS), info.context.system
        alert_id, action = parse_id(input.id, "id"), model_of(input, shapes.AlertAction)
        command = build_command(AcknowledgeAlert, action_fields(alert_id, action))
        row = await run_alert_command(system, caller, service(system).acknowledge, command)
        return Alert.from_row(row)

    @strawberry.mutation
    async def resolve_alert(self, info: Info, input: ResolveAlertInput) -> Alert:
        caller, system = info.context.authorize(Permission.WRITE_ALERTS), info.context.system
        alert_id, action = parse_id(input.id, "id"), model_of(input, shapes.AlertAction)
        command = build_command(ResolveAlert, action_fields(alert_id, action))
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
