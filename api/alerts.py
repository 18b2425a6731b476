"""The alert operations (`api.operations`): alert rules (read, create, revise, delete), alerts
(read, acknowledge, resolve) and the alert timeline, each declared once for REST and GraphQL.
Commands go through the one command path (`api.command_path`) and answer with the read model's
row once it holds the change (mutations wait at most 2 s), else with the row built from the
aggregate just saved (`rule_row_of`, `alert_row_of`). The inputs are `api.alert_inputs`', the
output models `api.alert_view`'s. The subscription `alertChanged` is `api.graphql.alerts`'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar
from uuid import UUID

import strawberry
from fastapi import Path

from api.alert_inputs import (
    AlertAction,
    AlertQuery,
    RuleCreate,
    RuleDefinitionBody,
    RuleDelete,
    RuleQuery,
    RuleRevise,
    RuleRevisionBody,
    SortOrder,
    TimelineQuery,
)
from api.alert_rows import run_alert_command, run_rule_command
from api.alert_view import AlertPublic, AlertRulePublic, TimelineEntryPublic
from api.auth import Permission
from api.command_path import build_command
from api.operations import (
    MUTATION,
    PAGE_ARGS,
    QUERY,
    Arg,
    Call,
    GraphQL,
    Operation,
    Paged,
    Rest,
    parse_id,
)
from api.rest.alert_models import RULE_EXAMPLE, AlertRulesPage, AlertsPage, TimelinePage
from api.rest.errors import conflict, not_found
from event_store.envelope import EventMetadata
from read_side.alerts import AlertRow, AlertRuleRow, TimelineEntry, TimelineFilter, encode_cursor
from read_side.paging import MAX_PAGE_SIZE, Page
from write_side.alert_commands import (
    AcknowledgeAlert,
    CreateAlertRule,
    DeleteAlertRule,
    ResolveAlert,
    ReviseAlertRule,
)
from write_side.alert_rules import AlertRule
from write_side.alerts import Alert
from write_side.application import Saved

C = TypeVar("C")

ALERT_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="alertId", description="The alert's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("an id"),
)
RULE_ID = Arg(
    "id",
    Annotated[UUID, Path(alias="ruleId", description="The rule's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("an id"),
)
ORDER = Arg("order", Literal["newest_first", "oldest_first"], SortOrder, SortOrder.NEWEST_FIRST)


async def get_rule(call: Call) -> AlertRulePublic | None:
    row = await call.read(call.system.alerts.get_rule, call["id"])
    return None if row is None else AlertRulePublic.from_row(row)


async def list_rules(call: Call) -> Page[AlertRuleRow]:
    return await call.page(call.system.alerts.list_rules, call.shape.criteria())


async def get_alert(call: Call) -> AlertPublic | None:
    row = await call.read(call.system.alerts.get_alert, call["id"])
    return None if row is None else AlertPublic.from_row(row)


def with_timeline(call: Call, alert: AlertPublic) -> AlertPublic:
    """REST's single alert, with its timeline (GraphQL reads it as `Alert.timeline`)."""
    criteria = TimelineFilter(alert_id=alert.id, newest_first=False)
    page = call.system.alerts.timeline(call.caller.tenant_id, criteria, MAX_PAGE_SIZE, None)
    return alert.model_copy(
        update={"timeline": [TimelineEntryPublic.from_entry(e) for e in page.items]}
    )


async def list_alerts(call: Call) -> Page[AlertRow]:
    return await call.page(call.system.alerts.list_alerts, call.shape.criteria())


async def alert_timeline(call: Call) -> Page[TimelineEntry]:
    newest_first = call["order"] == SortOrder.NEWEST_FIRST
    return await call.page(call.system.alerts.timeline, call.shape.criteria(newest_first))


async def create_rule(call: Call) -> AlertRulePublic:
    command = CreateAlertRule(definition=call.shape.checked())
    return await _rule_command(call, call.system.alert_service.create_rule, command)


async def revise_rule(call: Call) -> AlertRulePublic:
    shape = call.shape
    fields = {"rule_id": call["id"], "definition": shape.checked()}
    command = build_command(ReviseAlertRule, fields | {"expected_version": shape.expected_version})
    return await _rule_command(call, call.system.alert_service.revise_rule, command)


async def delete_rule(call: Call) -> AlertRulePublic:
    command = build_command(DeleteAlertRule, call.shape.model_dump() | {"rule_id": call["id"]})
    return await _rule_command(call, call.system.alert_service.delete_rule, command)


async def acknowledge_alert(call: Call) -> AlertPublic:
    command = build_command(AcknowledgeAlert, call.shape.model_dump() | {"alert_id": call["id"]})
    return await _alert_command(call, call.system.alert_service.acknowledge, command)


async def resolve_alert(call: Call) -> AlertPublic:
    command = build_command(ResolveAlert, call.shape.model_dump() | {"alert_id": call["id"]})
    return await _alert_command(call, call.system.alert_service.resolve, command)


async def _rule_command(
    call: Call, handle: Callable[[C, EventMetadata], Saved[AlertRule]], command: C
) -> AlertRulePublic:
    row = await run_rule_command(call.system, call.caller, handle, command)
    return AlertRulePublic.from_row(row)


async def _alert_command(
    call: Call, handle: Callable[[C, EventMetadata], Saved[Alert]], command: C
) -> AlertPublic:
    return AlertPublic.from_row(await run_alert_command(call.system, call.caller, handle, command))


READ, WRITE, RULES = Permission.READ_ALERTS, Permission.WRITE_ALERTS, Permission.WRITE_RULES
NO_RULE, NO_ALERT = not_found("alert rule"), not_found("alert")
RULE_CHANGED, ALERT_CHANGED = NO_RULE | conflict("alert rule"), NO_ALERT | conflict("alert")
OPERATIONS = (
    Operation(
        "get_rule", READ, get_rule, AlertRulePublic, args=(RULE_ID,),
        nullable=True, missing="alert rule {id} not found",
        rest=Rest("GET", "/alert-rules/{ruleId}", "Show an alert rule", responses=NO_RULE),
        graphql=GraphQL("alert_rule", QUERY),
    ),
    Operation(
        "list_rules", READ, list_rules, AlertRulePublic, shape=RuleQuery, args=PAGE_ARGS,
        paged=Paged(
            AlertRulePublic.from_row, lambda r: encode_cursor("r", r.rule_id.hex), AlertRulesPage
        ),
        rest=Rest("GET", "/alert-rules", "List alert rules (by id)", shape_in="query"),
        graphql=GraphQL("alert_rules", QUERY, input="AlertRuleFilter"),
    ),
    Operation(
        "get_alert", READ, get_alert, AlertPublic, args=(ALERT_ID,),
        nullable=True, missing="alert {id} not found",
        rest=Rest(
            "GET", "/alerts/{alertId}", "Show an alert with its timeline",
            responses=NO_ALERT, answer=with_timeline,
        ),
        graphql=GraphQL("alert", QUERY),
    ),
    Operation(
        "list_alerts", READ, list_alerts, AlertPublic, shape=AlertQuery, args=PAGE_ARGS,
        paged=Paged(AlertPublic.from_row, lambda a: encode_cursor("a", a.raised_key), AlertsPage),
        rest=Rest("GET", "/alerts", "List alerts (newest raised first)", shape_in="query"),
        graphql=GraphQL("alerts", QUERY, input="AlertFilter"),
    ),
    Operation(
        "alert_timeline", READ, alert_timeline, TimelineEntryPublic, shape=TimelineQuery,
        args=(ORDER, *PAGE_ARGS),
        paged=Paged(
            TimelineEntryPublic.from_entry, lambda e: encode_cursor("t", e.key), TimelinePage,
            connection="AlertTimelineConnection",
        ),
        rest=Rest(
            "GET", "/alert-timeline", "Alert transitions, in the order recorded", shape_in="query"
        ),
        graphql=GraphQL("alert_timeline", QUERY, input="AlertTimelineFilter"),
    ),
    Operation(
        "create_rule", RULES, create_rule, AlertRulePublic, shape=RuleDefinitionBody,
        rest=Rest(
            "POST", "/alert-rules", "Create an alert rule", status=201, examples=[RULE_EXAMPLE],
            location=lambda rule: f"/alert-rules/{rule.id}",
        ),
        graphql=GraphQL("create_alert_rule", MUTATION, "CreateAlertRuleInput", RuleCreate),
    ),
    Operation(
        "revise_rule", RULES, revise_rule, AlertRulePublic, shape=RuleRevisionBody,
        args=(RULE_ID,),
        rest=Rest(
            "PUT", "/alert-rules/{ruleId}",
            "Revise an alert rule (the full definition; `enabled` toggles)",
            examples=[RULE_EXAMPLE], if_match="a", responses=RULE_CHANGED,
        ),
        graphql=GraphQL("revise_alert_rule", MUTATION, "ReviseAlertRuleInput", RuleRevise),
    ),
    Operation(
        "delete_rule", RULES, delete_rule, AlertRulePublic, shape=RuleDelete, args=(RULE_ID,),
        rest=Rest(
            "DELETE", "/alert-rules/{ruleId}",
            "Delete an alert rule (soft: its open alerts are resolved)",
            shape_in="query", if_match="a", responses=RULE_CHANGED,
        ),
        graphql=GraphQL("delete_alert_rule", MUTATION, "DeleteAlertRuleInput"),
    ),
    Operation(
        "acknowledge_alert", WRITE, acknowledge_alert, AlertPublic, shape=AlertAction,
        args=(ALERT_ID,),
        rest=Rest(
            "POST", "/alerts/{alertId}/acknowledge", "Acknowledge an alert",
            shape_in="optional body", if_match="a", responses=ALERT_CHANGED,
        ),
        graphql=GraphQL("acknowledge_alert", MUTATION, "AcknowledgeAlertInput"),
    ),
    Operation(
        "resolve_alert", WRITE, resolve_alert, AlertPublic, shape=AlertAction, args=(ALERT_ID,),
        rest=Rest(
            "POST", "/alerts/{alertId}/resolve", "Resolve an alert",
            shape_in="optional body", if_match="a", responses=ALERT_CHANGED,
        ),
        graphql=GraphQL("resolve_alert", MUTATION, "ResolveAlertInput"),
    ),
)  # fmt: skip
