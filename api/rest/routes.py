"""The REST adapter of the operation table (`api.operations`): one FastAPI route per operation
with a `Rest` entry, built from the entry alone.

Each route takes, in this order, the input shape (the body, an optional body, or the query
string), the operation's plain arguments with REST annotations (the path's id, `first`,
`after`, ...) and, where the entry says so, an `If-Match` header; it authenticates and
authorizes the caller with the operation's permission (`api.rest.deps.require`), runs the
operation once and answers: a page of the output model, or the output (404 when a read finds
nothing) with its version as the `ETag`, a `Location`, the entry's headers and status. The
endpoint's signature is built with `inspect.Signature`, which FastAPI reads as it reads a
hand-written one, so the OpenAPI document is the one the hand-written routes had."""

from __future__ import annotations

from collections.abc import Sequence
from inspect import Parameter, Signature
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Depends, Header, Query, Response

from api.auth import Principal
from api.operations import REQUIRED, Call, Operation, Rest
from api.rest.deps import SystemDep, require
from api.rest.errors import ERROR_RESPONSES
from api.rest.versions import expected_version
from write_side.errors import NotFound

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The version the change expects, e.g. `"3"` (ETag).'),
]


def router_of(operations: Sequence[Operation], tag: str) -> APIRouter:
    """The routes of the operations that have a REST entry, in the table's order."""
    router = APIRouter(tags=[tag], responses=ERROR_RESPONSES)
    for operation in operations:
        if operation.rest is not None:
            _add(router, operation, operation.rest)
    return router


def _add(router: APIRouter, op: Operation, rest: Rest) -> None:
    model: Any = rest.model or (op.paged.page if op.paged is not None else op.output)
    if op.many:
        model = list[model]

    async def endpoint(
        *,
        caller: Principal,
        system: Any,
        response: Response,
        body: Any = None,
        if_match: str | None = None,
        **args: Any,
    ) -> Any:
        shape: Any = body if body is not None or op.shape is None else op.shape()
        if rest.if_match is not None:
            given = shape.expected_version
            shape.expected_version = expected_version(
                given, if_match, rest.if_match, lowest=rest.lowest
            )
        call = Call(system, caller, shape, args)
        result = await op.run(call)
        if op.paged is not None:
            return model.of(result, op.paged.item)
        if op.many:
            return result
        if result is None:
            raise NotFound(op.missing.format(**args))
        response.headers.update(rest.headers)
        if rest.etag:
            response.headers["ETag"] = f'"{result.version}"'
        shown = result
        if rest.answer is not None:
            shown = await to_thread.run_sync(rest.answer, call, result)
        if rest.location is not None:
            response.headers["Location"] = rest.location(shown)
        return Response(status_code=204) if rest.status == 204 else shown

    endpoint.__name__ = op.name
    endpoint.__signature__ = Signature(  # type: ignore[attr-defined]
        _parameters(op, rest), return_annotation=model if rest.status != 204 else None
    )
    router.add_api_route(
        rest.path,
        endpoint,
        methods=[rest.method],
        status_code=rest.status,
        summary=rest.summary,
        responses=dict(rest.responses),
        response_model=model if rest.status != 204 else None,
    )


def _parameters(op: Operation, rest: Rest) -> list[Parameter]:
    def keyword(name: str, annotation: Any, default: Any = REQUIRED) -> Parameter:
        default = Parameter.empty if default is REQUIRED else default
        return Parameter(name, Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    parameters = [
        keyword("caller", Annotated[Principal, Depends(require(op.permission))]),
        keyword("system", SystemDep),
        keyword("response", Response),
    ]
    if op.shape is not None:
        if rest.shape_in == "query":
            parameters.append(keyword("body", Annotated[op.shape, Query()]))
        elif rest.shape_in == "optional body":
            parameters.append(keyword("body", op.shape | None, None))
        elif rest.examples is not None:
            parameters.append(keyword("body", Annotated[op.shape, Body(examples=rest.examples)]))
        else:
            parameters.append(keyword("body", op.shape))
    parameters += [
        keyword(arg.name, arg.rest, arg.default) for arg in op.args if arg.rest is not None
    ]
    if rest.if_match is not None:
        parameters.append(keyword("if_match", IfMatch, None))
    return parameters
