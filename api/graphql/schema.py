"""The GraphQL schema: device slice, error codes, and limits on what one document may ask."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StreamResult
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

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
from api.auth import Principal

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
from api.graphql.audit_follow import AuditSubscription
from api.graphql.checked import CheckedDocuments
from api.graphql.context import GraphQLContext
from api.graphql.errors import ErrorCodes, log_unexpected
from api.graphql.exports import ExportSubscription
from api.graphql.fields import root_type
from api.graphql.firmware import DeploymentSubscription
from api.graphql.scalars import SCALAR_MAP
from api.graphql.shared import SharedSubscriptions, group_key, group_principal, shareable
from api.graphql.subscription import Subscription
from api.graphql.telemetry import TelemetrySubscription
from api.graphql.transport import SUBSCRIBING
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
    AuditSubscription,
)

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000


class FleetSchema(Schema):
    shared: SharedSubscriptions | None = None  # set: live subscriptions executed once per group

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors, execution_context)

    async def stream(  # noqa: PLR0917 - strawberry's signature
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """A websocket's operation; a subscription of an authenticated caller joins its group
        (`api.graphql.shared`), run under the group's principal, once for all its members."""
        caller = getattr(context_value, "caller", None)
        shared = self.shared
        if (
            shared is None
            or query is None
            or not isinstance(context_value, GraphQLContext)
            or not isinstance(caller, Principal)
            or not shareable(query, operation_name, variable_values)
        ):
            return await super().stream(
                query, variable_values, context_value, root_value, operation_name,
                operation_extensions, allowed_operation_types,
            )  # fmt: skip
        group = GraphQLContext(context_value.system, group_principal(caller))

        async def start() -> AsyncIterator[Any]:
            return await Schema.stream(
                self, query, variable_values, group, root_value, operation_name,
                operation_extensions, allowed_operation_types,
            )  # fmt: skip

        key = group_key(query, variable_values, operation_name, caller)
        return shared.join(key, caller, start, SUBSCRIBING.get())


def build_schema(shared: SharedSubscriptions | None = None) -> FleetSchema:
    """The schema; `shared`: its live subscriptions executed once per group."""
    checked = CheckedDocuments()  # documents parsed and found valid before
    schema = FleetSchema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS),
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            ErrorCodes,
            checked.extension,
        ],
    )
    schema.shared = shared
    return schema
