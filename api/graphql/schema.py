"""The GraphQL schema: device slice, error codes, and limits on what one document may ask."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api import (
    alerts,
    analytics,
    as_of,
    audit,
    dashboard,
    deployments,
    devices,
    exports,
    firmware,
    firmware_upload,
    telemetry,
    users,
)

# The modules of the GraphQL classes the tables name (inputs, connections): registered on import.
from api.graphql import (  # noqa: F401
    alert_inputs,
    analytics_types,
    dashboard_types,
    export_types,
    firmware_inputs,
    firmware_types,
    user_types,
)
from api.graphql import audit as audit_types  # noqa: F401
from api.graphql import firmware_upload as firmware_upload_types  # noqa: F401
from api.graphql.alerts import AlertSubscription
from api.graphql.errors import ErrorCodes, log_unexpected
from api.graphql.exports import ExportSubscription
from api.graphql.fields import root_type
from api.graphql.firmware import DeploymentSubscription
from api.graphql.scalars import SCALAR_MAP
from api.graphql.subscription import Subscription
from api.graphql.telemetry import TelemetrySubscription
from api.operations import MUTATION, QUERY

# Each slice of the API contributes its root types here, those of its operation table made by
# `root_type`; they are merged into one schema, their fields in this order.
QUERIES: tuple[type, ...] = (
    root_type(devices.OPERATIONS, QUERY),
    root_type(audit.OPERATIONS, QUERY),
    root_type(as_of.OPERATIONS, QUERY),
    root_type(telemetry.OPERATIONS, QUERY),
    root_type(analytics.OPERATIONS, QUERY),
    root_type(alerts.OPERATIONS, QUERY),
    root_type(users.OPERATIONS, QUERY),
    root_type(firmware.OPERATIONS, QUERY),
    root_type(deployments.OPERATIONS, QUERY),
    root_type(dashboard.OPERATIONS, QUERY),
    root_type(exports.OPERATIONS, QUERY),
)
MUTATIONS: tuple[type, ...] = (
    root_type(devices.OPERATIONS, MUTATION),
    root_type(alerts.OPERATIONS, MUTATION),
    root_type(users.OPERATIONS, MUTATION),
    root_type(firmware.OPERATIONS, MUTATION),
    root_type(deployments.OPERATIONS, MUTATION),
    root_type(firmware_upload.OPERATIONS, MUTATION),
    root_type(exports.OPERATIONS, MUTATION),
)
SUBSCRIPTIONS: tuple[type, ...] = (
    Subscription,
    TelemetrySubscription,
    AlertSubscription,
    DeploymentSubscription,
    ExportSubscription,
)

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000


class FleetSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors, execution_context)


def build_schema() -> Schema:
    return FleetSchema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS),
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            ErrorCodes,
        ],
    )
