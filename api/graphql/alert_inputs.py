"""GraphQL inputs of the alerts slice, derived from the one definition of each in
`api.alert_inputs` (`api.graphql.derive.derived_input`): only the `id` of the inputs that act on
one rule or alert is spelled out here (REST has it in the path)."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from api.alert_inputs import (
    AlertAction,
    AlertQuery,
    ComparisonBody,
    ConditionBody,
    RuleCreate,
    RuleDefinitionBody,
    RuleDelete,
    RuleQuery,
    RuleRevise,
    RuleScopeBody,
    TimelineQuery,
)
from api.graphql.derive import derived_input, model_of
from api.inputs import Input

Q = TypeVar("Q", bound=Input)


@derived_input(RuleScopeBody, name="RuleScopeInput")
class RuleScopeInput:
    pass


@derived_input(ComparisonBody, name="ComparisonInput")
class ComparisonInput:
    pass


@derived_input(ConditionBody, name="ConditionInput")
class ConditionInput:
    pass


@derived_input(RuleDefinitionBody, name="AlertRuleDefinitionInput")
class AlertRuleDefinitionInput:
    pass


@derived_input(RuleCreate, name="CreateAlertRuleInput")
class CreateAlertRuleInput:
    pass


@derived_input(RuleRevise, name="ReviseAlertRuleInput")
class ReviseAlertRuleInput:
    id: strawberry.ID


@derived_input(RuleDelete, name="DeleteAlertRuleInput")
class DeleteAlertRuleInput:
    id: strawberry.ID


@derived_input(AlertAction, name="AcknowledgeAlertInput")
class AcknowledgeAlertInput:
    id: strawberry.ID


@derived_input(AlertAction, name="ResolveAlertInput")
class ResolveAlertInput:
    id: strawberry.ID


@derived_input(RuleQuery, name="AlertRuleFilter")
class AlertRuleFilterInput:
    pass


@derived_input(AlertQuery, name="AlertFilter", undescribed=("severities", "states"))
class AlertFilterInput:
    pass


@derived_input(TimelineQuery, name="AlertTimelineFilter", undescribed=("states",))
class AlertTimelineFilterInput:
    pass


def query_of(given: object | None, query: type[Q]) -> Q:
    """The query of a filter argument (`filter.ruleId` at fault); none given: every row."""
    return query() if given is None else model_of(given, query, "filter")
