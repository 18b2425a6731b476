"""GraphQL errors with codes: every error gets `extensions.code` (and `extensions.field` for
invalid input); unexpected ones are logged with their traceback and masked."""

from __future__ import annotations

import logging

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from api.errors import BAD_USER_INPUT, INTERNAL_MESSAGE, INTERNAL_SERVER_ERROR, describe

log = logging.getLogger(__name__)

FIELD_NAMES = {"device_id": "id"}  # command field -> GraphQL input field


def client_error(error: GraphQLError) -> GraphQLError | None:
    """`error` as the client may see it, with a code; None when it is unexpected (a bug)."""
    if error.extensions and "code" in error.extensions:
        return error  # already translated
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # graphql-core's own: the document does not parse, validate or fit the variables.
        code = "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else None
        return _with_code(error, error.message, code or "GRAPHQL_VALIDATION_FAILED")
    described = describe(original, FIELD_NAMES)
    if described is not None:
        return _with_code(error, described.message, described.code, described.field)
    if error.path is None and error.nodes:  # a variable's value failed its scalar's parsing
        return _with_code(error, error.message, BAD_USER_INPUT)
    return None


def masked(error: GraphQLError) -> GraphQLError:
    return _with_code(error, INTERNAL_MESSAGE, INTERNAL_SERVER_ERROR)


class ErrorCodes(MaskErrors):
    """Translates every error (of results and of subscription events) for the client."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return client_error(error) or masked(error)


def log_unexpected(errors: list[GraphQLError], context: ExecutionContext | None) -> None:
    """Server-side record of the errors `ErrorCodes` masks (expected ones are not logged)."""
    for error in errors:
        if client_error(error) is None:
            operation = context.operation_name if context is not None else None
            log.error(
                "unexpected error in GraphQL operation %s at %s",
                operation or "<anonymous>",
                error.path,
                exc_info=error.original_error or error,
            )


def _with_code(
    error: GraphQLError, message: str, code: str, field: str | None = None
) -> GraphQLError:
    extensions: dict[str, object] = {"code": code}
    if field is not None:
        extensions["field"] = field
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
