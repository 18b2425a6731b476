"""GraphQL types of the analytics dashboard (docs/analytics.md 20.1), derived from the one
definition of each in `api.dashboard_view`; nothing reads more, so none is spelled out."""

from __future__ import annotations

from api.dashboard_view import (
    CountPublic,
    DashboardPublic,
    IngestMinutePublic,
    NoisiestPublic,
    RuleWeekPublic,
)
from api.graphql.derive import part_type

for _part, _name in (
    (CountPublic, "Count"),
    (RuleWeekPublic, "RuleWeek"),
    (NoisiestPublic, "Noisiest"),
    (IngestMinutePublic, "IngestMinute"),
    (DashboardPublic, "Dashboard"),
):
    part_type(_part, _name)
