"""REST pages of the alerts slice (camelCase on the wire), and the example of a rule's body.

An alert, a timeline entry and a rule as shown are `api.alert_view`'s, a body or query
`api.alert_inputs`', the one definitions GraphQL derives from too; the pages below are made of
them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

from pydantic import Field

from api.alert_view import AlertPublic, AlertRulePublic, TimelineEntryPublic
from api.rest.models import CamelModel
from read_side.paging import Page

T = TypeVar("T")

RULE_EXAMPLE = {
    "name": "Pump too hot",
    "scope": {"deviceType": "pump"},
    "severity": "critical",
    "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 80},
    "clearCondition": {"op": "<", "value": 75},
    "enabled": True,
}


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
