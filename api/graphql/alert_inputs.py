"""GraphQL inputs of the alerts slice that are not an operation's own, derived from the one
definition of each in `api.alert_inputs` (`api.graphql.derive.derived_input`): the parts of a
rule's definition, and the filters whose REST-only notes are left out. The inputs of the
mutations and `AlertRuleFilter` are derived from the operation table (`api.alerts`) by
`api.graphql.fields`."""

from __future__ import annotations

from typing import TypeVar

from api.alert_inputs import (
    AlertQuery,
    ComparisonBody,
    ConditionBody,
    RuleDefinitionBody,
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


@derived_input(AlertQuery, name="AlertFilter", undescribed=("severities", "states"))
class AlertFilterInput:
    pass


@derived_input(TimelineQuery, name="AlertTimelineFilter", undescribed=("states",))
class AlertTimelineFilterInput:
    pass


def query_of(given: object | None, query: type[Q]) -> Q:
    """The query of a filter argument (`filter.ruleId` at fault); none given: every row."""
    return query() if given is None else model_of(given, query, "filter")
