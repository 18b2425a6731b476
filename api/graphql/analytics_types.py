"""GraphQL's analytics types, derived from the one definition (`api.analytics`): the query's
answer and its parts, and the read side's enums under names of their own in the schema."""

from __future__ import annotations

import strawberry

from api.analytics import AnalyticsLayout, AnalyticsResultPublic, PointPublic, SeriesPublic
from api.graphql.derive import part_type
from read_side.analytics import Aggregation, GroupBy, Source, TimeBucket

strawberry.enum(Source, name="AnalyticsSource")
strawberry.enum(TimeBucket, name="AnalyticsBucket")
strawberry.enum(Aggregation, name="AnalyticsAggregation")
strawberry.enum(GroupBy, name="AnalyticsGroupBy")
strawberry.enum(AnalyticsLayout)
part_type(PointPublic, "AnalyticsPoint")
part_type(SeriesPublic, "AnalyticsSeries")
part_type(AnalyticsResultPublic, "AnalyticsResult")
