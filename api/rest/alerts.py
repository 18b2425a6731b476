"""REST alerts (seed: `GET /alerts`, `GET /alerts/{alertId}`, `POST /alerts/{alertId}/acknowledge`,
`POST /alerts/{alertId}/resolve`) and alert rules (`GET/POST /alert-rules`,
`PUT/DELETE /alert-rules/{ruleId}`), plus `GET /alert-rules/{ruleId}` and `GET /alert-timeline`.
Thin: a body or query in, a command or a read out, a response model back."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from api.alert_inputs import (
    AlertAction,
    AlertQuery,
    RuleDefinitionBody,
    RuleDelete,
    RuleQuery,
    RuleRevisionBody,
    TimelineQuery,
)
from api.alert_view import AlertPublic, AlertRulePublic, TimelineEntryPublic
from api.alerts import action_fields, run_alert_command, run_rule_command, service
from api.auth import Permission, Principal
from api.command_path import build_command
from api.rest.alert_models import RULE_EXAMPLE, AlertRulesPage, AlertsPage, TimelinePage
from api.rest.deps import SystemDep, require
from api.rest.errors import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from api.rest.versions import expected_version
from read_side.alerts import TimelineFilter
from read_side.paging import MAX_PAGE_SIZE
from write_side.alert_commands import (
    AcknowledgeAlert,
    DeleteAlertRule,
    ResolveAlert,
    ReviseAlertRule,
)
from write_side.alert_commands import CreateAlertRule as CreateRule
from write_side.errors import NotFound

V = TypeVar("V")

router = APIRouter(tags=["alerts"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(require(Permission.READ_ALERTS))]
Operator = Annotated[Principal, Depends(require(Permission.WRITE_ALERTS))]
Admin = Annotated[Principal, Depends(require(Permission.WRITE_RULES))]
AlertId = Annotated[UUID, Path(alias="alertId", description="The alert's id (a UUID).")]
RuleId = Annotated[UUID, Path(alias="ruleId", description="The rule's id (a UUID).")]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description='The expected version, e.g. `"3"`.')
]
First = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
After = Annotated[str | None, Query(description="`nextCursor` of the previous page.")]
Definition = Annotated[RuleDefinitionBody, Body(examples=[RULE_EXAMPLE])]
Revision = Annotated[RuleRevisionBody, Body(examples=[RULE_EXAMPLE])]


@router.get("/alerts", summary="List alerts (newest raised first)")
def list_alerts(
    *,
    caller: Reader,
    system: SystemDep,
    query: Annotated[AlertQuery, Query()],
    first: First = 50,
    after: After = None,
) -> AlertsPage:
    page = system.alerts.list_alerts(caller.tenant_id, query.criteria(), first, after)
    return AlertsPage.of(page, AlertPublic.from_row)


@router.get("/alerts/{alertId}", summary="Show an alert with its timeline", responses=NOT_FOUND)
def get_alert(
    alert_id: AlertId, caller: Reader, system: SystemDep, response: Response
) -> AlertPublic:
    row = system.alerts.get_alert(caller.tenant_id, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    criteria = TimelineFilter(alert_id=alert_id, newest_first=False)
    timeline = system.alerts.timeline(caller.tenant_id, criteria, MAX_PAGE_SIZE, None).items
    return tagged(response, row.version, AlertPublic.from_row(row, timeline))


@router.post(
    "/alerts/{alertId}/acknowledge", summary="Acknowledge an alert", responses=NOT_FOUND | CONFLICT
)
async def acknowledge_alert(
    *,
    alert_id: AlertId,
    caller: Operator,
    system: SystemDep,
    response: Response,
    body: AlertAction | None = None,
    if_match: IfMatch = None,
) -> AlertPublic:
    command = build_command(AcknowledgeAlert, _action(alert_id, body, if_match))
    row = await run_alert_command(system, caller, service(system).acknowledge, command)
    return tagged(response, row.version, AlertPublic.from_row(row))


@router.post(
    "/alerts/{alertId}/resolve", summary="Resolve an alert", responses=NOT_FOUND | CONFLICT
)
async def resolve_alert(
    *,
    alert_id: AlertId,
    caller: Operator,
    system: SystemDep,
    response: Response,
    body: AlertAction | None = None,
    if_match: IfMatch = None,
) -> AlertPublic:
    command = build_command(ResolveAlert, _action(alert_id, body, if_match))
    row = await run_alert_command(system, caller, service(system).resolve, command)
    return tagged(response, row.version, AlertPublic.from_row(row))


@router.get("/alert-timeline", summary="Alert transitions, in the order recorded")
def alert_timeline(
    *,
    caller: Reader,
    system: SystemDep,
    query: Annotated[TimelineQuery, Query()],
    order: Literal["newest_first", "oldest_first"] = "newest_first",
    first: First = 50,
    after: After = None,
) -> TimelinePage:
    criteria = query.criteria(newest_first=order == "newest_first")
    page = system.alerts.timeline(caller.tenant_id, criteria, first, after)
    return TimelinePage.of(page, TimelineEntryPublic.from_entry)


@router.get("/alert-rules", summary="List alert rules (by id)")
def list_rules(
    *,
    caller: Reader,
    system: SystemDep,
    query: Annotated[RuleQuery, Query()],
    first: First = 50,
    after: After = None,
) -> AlertRulesPage:
    page = system.alerts.list_rules(caller.tenant_id, query.criteria(), first, after)
    return AlertRulesPage.of(page, AlertRulePublic.from_row)


@router.get("/alert-rules/{ruleId}", summary="Show an alert rule", responses=NOT_FOUND)
def get_rule(
    rule_id: RuleId, caller: Reader, system: SystemDep, response: Response
) -> AlertRulePublic:
    row = system.alerts.get_rule(caller.tenant_id, rule_id)
    if row is None:
        raise NotFound(f"alert rule {rule_id} not found")
    return tagged(response, row.version, AlertRulePublic.from_row(row))


@router.post("/alert-rules", status_code=201, summary="Create an alert rule")
async def create_rule(
    body: Definition, caller: Admin, system: SystemDep, response: Response
) -> AlertRulePublic:
    command = CreateRule(definition=body.checked())
    row = await run_rule_command(system, caller, service(system).create_rule, command)
    response.headers["Location"] = f"/alert-rules/{row.rule_id}"
    return tagged(response, row.version, AlertRulePublic.from_row(row))


@router.put(
    "/alert-rules/{ruleId}",
    summary="Revise an alert rule (the full definition; `enabled` toggles)",
    responses=NOT_FOUND | CONFLICT,
)
async def revise_rule(
    *,
    rule_id: RuleId,
    body: Revision,
    caller: Admin,
    system: SystemDep,
    response: Response,
    if_match: IfMatch = None,
) -> AlertRulePublic:
    fields = {"rule_id": rule_id, "definition": body.checked()}
    command = build_command(ReviseAlertRule, fields | _version(body.expected_version, if_match))
    row = await run_rule_command(system, caller, service(system).revise_rule, command)
    return tagged(response, row.version, AlertRulePublic.from_row(row))


@router.delete(
    "/alert-rules/{ruleId}",
    summary="Delete an alert rule (soft: its open alerts are resolved)",
    responses=NOT_FOUND | CONFLICT,
)
async def delete_rule(
    *,
    rule_id: RuleId,
    caller: Admin,
    system: SystemDep,
    response: Response,
    query: Annotated[RuleDelete, Query()],
    if_match: IfMatch = None,
) -> AlertRulePublic:
    fields = {"rule_id": rule_id} | _version(query.expected_version, if_match)
    command = build_command(DeleteAlertRule, fields)
    row = await run_rule_command(system, caller, service(system).delete_rule, command)
    return tagged(response, row.version, AlertRulePublic.from_row(row))


def _version(given: int | None, if_match: str | None) -> dict[str, object]:
    return {"expected_version": expected_version(given, if_match)}


def _action(alert_id: UUID, body: AlertAction | None, if_match: str | None) -> dict[str, object]:
    """The fields of `AcknowledgeAlert` or `ResolveAlert` (the body is optional)."""
    action = body or AlertAction()
    return action_fields(alert_id, action) | _version(action.expected_version, if_match)


def tagged(response: Response, version: int, shown: V) -> V:
    """`shown`, with its version as the response's `ETag`."""
    response.headers["ETag"] = f'"{version}"'
    return shown
