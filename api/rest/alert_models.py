"""REST bodies of the alerts slice (camelCase on the wire). A rule definition travels as the
domain's JSON with camelCase keys (`clearCondition`, `scope.deviceType`, `windowSeconds`).

An alert, a timeline entry and a rule as shown are `api.alert_view`'s, the one definition
GraphQL derives from too; the pages below are made of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

from pydantic import Field
from pydantic.alias_generators import to_snake

from api.alert_view import AlertPublic, AlertRulePublic, TimelineEntryPublic
from api.rest.models import CamelModel
from read_side.paging import Page
from write_side.alerts import MAX_NOTE

T = TypeVar("T")

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


class ItemsPage(CamelModel, Generic[T]):
    """A page of a list: each model below is one (its OpenAPI component keeps its name)."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")

    @classmethod
    def of(cls, page: Page[Any], shown: Callable[[Any], T]) -> Self:
        """The page of rows, each as `shown(row)`."""
        return cls(items=[shown(row) for row in page.items], next_cursor=page.next_cursor)


class AlertRulesPage(ItemsPage[AlertRulePublic]):
    pass


class AlertsPage(ItemsPage[AlertPublic]):
    pass


class TimelinePage(ItemsPage[TimelineEntryPublic]):
    pass
