"""REST pages of the alerts slice (camelCase on the wire), and the example of a rule's body.

An alert, a timeline entry and a rule as shown are `api.alert_view`'s, a body or query
`api.alert_inputs`', the one definitions GraphQL derives from too; the pages below are made of
them."""

from __future__ import annotations

from api.alert_view import AlertPublic, AlertRulePublic, TimelineEntryPublic
from api.rest.models import ItemsPage

RULE_EXAMPLE = {
    "name": "Pump too hot",
    "scope": {"deviceType": "pump"},
    "severity": "critical",
    "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 80},
    "clearCondition": {"op": "<", "value": 75},
    "enabled": True,
}


class AlertRulesPage(ItemsPage[AlertRulePublic]):
    pass


class AlertsPage(ItemsPage[AlertPublic]):
    pass


class TimelinePage(ItemsPage[TimelineEntryPublic]):
    pass
