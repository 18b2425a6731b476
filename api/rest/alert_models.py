"""REST bodies of the alerts slice (camelCase on the wire). A rule definition travels as the
domain's JSON with camelCase keys (`clearCondition`, `scope.deviceType`, `windowSeconds`).

An alert and a timeline entry as shown are `api.alert_view`'s, the one definition GraphQL
derives from too; the pages below are made of them."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic.alias_generators import to_snake

from api.alert_view import AlertPublic, AlertRulePublic, TimelineEntryPublic
from api.rest.models import CamelModel
from read_side.alerts import AlertRow, AlertRuleRow, TimelineEntry
from read_side.paging import Page
from write_side.alerts import MAX_NOTE

RULE_EXAMPLE = {
    "name": "Pump too hot",
    "scope": {"deviceType": "pump"},
    "severity": "critical",
    "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 80},
    "clearCondition": {"op": "<", "value": 75},
    "enabled": True,
}


def snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {to_snake(str(k)): snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


class AlertAction(CamelModel):
    """Acknowledge or resolve; the version may also come as an `If-Match` header."""

    note: str | None = Field(default=None, max_length=MAX_NOTE)
    expected_version: int | None = Field(default=None, ge=1)


class AlertRulesPage(CamelModel):
    items: list[AlertRulePublic]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def from_page(cls, page: Page[AlertRuleRow]) -> AlertRulesPage:
        return cls(
            items=[AlertRulePublic.from_row(r) for r in page.items], next_cursor=page.next_cursor
        )


class TimelinePage(CamelModel):
    items: list[TimelineEntryPublic]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def from_page(cls, page: Page[TimelineEntry]) -> TimelinePage:
        items = [TimelineEntryPublic.from_entry(e) for e in page.items]
        return cls(items=items, next_cursor=page.next_cursor)


class AlertsPage(CamelModel):
    items: list[AlertPublic]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def from_page(cls, page: Page[AlertRow]) -> AlertsPage:
        return cls(
            items=[AlertPublic.from_row(r) for r in page.items], next_cursor=page.next_cursor
        )
