"""The GraphQL adapter of the operation table (`api.operations`): one strawberry field per
operation with a `GraphQL` entry, built from the entry alone, gathered into one root type per
kind (`root_type(OPERATIONS, QUERY)`), which `api.graphql.schema` merges as it merges the
hand-written ones.

A mutation takes one argument, `input: <the input>!`, from which it reads the shape (`model_of`,
validated by the shape's model as REST's body is) and the operation's plain arguments by name
(`input.id`). A query takes the shape as `filter: <the input> = null` (a listing), or as
`input: <the input>!` when the shape has a required field (an analytics query), and its plain
arguments with their GraphQL annotations and defaults. The input is the one of the entry's name
registered (`api.graphql.derive.registered`: written by hand where GraphQL takes a field
otherwise than REST), else derived here from the shape, with the plain arguments of a mutation
first: so a mutation whose input is its shape and its id needs no GraphQL class at all. Each
authorizes the caller with the operation's permission, runs the operation once and shows its
answer as the type derived from the output model (`Device(view=...)`), null when a read finds
nothing, or a page as a connection. The resolver's signature is built with `inspect.Signature`,
which strawberry reads as it reads a hand-written resolver's, so the schema is the one the
hand-written fields printed."""

from __future__ import annotations

from collections.abc import Sequence
from inspect import Parameter, Signature
from typing import Any, Literal

import strawberry
from strawberry.utils.str_converters import to_camel_case

from api.graphql.context import Info
from api.graphql.derive import derived_input, derived_of, model_of, named
from api.graphql.types import Connection, connection
from api.inputs import Input
from api.operations import REQUIRED, Arg, Call, GraphQL, Operation


def root_type(operations: Sequence[Operation], kind: Literal["query", "mutation"]) -> type:
    """A strawberry type with the fields of the operations of `kind`, in the table's order."""
    make = strawberry.mutation if kind == "mutation" else strawberry.field
    fields = {
        op.graphql.name: make(resolver=_resolver(op, op.graphql))
        for op in operations
        if op.graphql is not None and op.graphql.kind == kind
    }
    return strawberry.type(type(kind.capitalize(), (), fields))


def _resolver(op: Operation, gql: GraphQL) -> Any:
    output = derived_of(op.output) if gql.output is None else named(gql.output)
    mutation = gql.kind == "mutation"

    async def resolve(info: Info, input: Any = None, filter: Any = None, **given: Any) -> Any:
        caller = info.context.authorize(op.permission)
        model, shape = gql.shape or op.shape, None
        if mutation:
            shape = None if model is None else model_of(input, model)
            args = {arg.name: _parsed(arg, getattr(input, arg.name)) for arg in op.args}
        else:
            if input is not None and model is not None:  # a query with required fields
                shape = model_of(input, model)
            elif model is not None:
                shape = model() if filter is None else model_of(filter, model, "filter")
            args = {a.name: _parsed(a, given[a.name]) for a in op.args if a.graphql is not None}
        result = await op.run(Call(info.context.system, caller, shape, args))
        if op.paged is not None:
            item, cursor = op.paged.item, op.paged.cursor
            return connection(result, lambda row: output(view=item(row)), cursor)
        if op.many:
            return [output(view=shown) for shown in result]
        if result is None:
            return None
        return output(view=result if op.view is None else op.view(result))

    resolve.__name__ = gql.name
    resolve.__signature__ = Signature(  # type: ignore[attr-defined]
        _parameters(op, gql), return_annotation=_returns(op, output)
    )
    return resolve


def _input(op: Operation, gql: GraphQL, args: Sequence[Arg]) -> Any:
    """The input the entry names: one registered by that name (written where GraphQL takes a
    field otherwise than REST: required where REST has a header), else derived from the shape
    with the operation's arguments first (`id`: REST has it in the path)."""
    name, model = gql.input, gql.shape or op.shape
    assert name is not None, f"{gql.name}: a mutation that takes something takes an input"
    plain = type(name, (), {"__annotations__": {arg.name: arg.graphql for arg in args}})

    def derive() -> type:
        return (
            strawberry.input(plain, name=name)
            if model is None
            else derived_input(model, name)(plain)
        )

    return named(name, derive)


def _requires(model: type[Input]) -> bool:
    """A shape with a required field: a query takes it as `input: X!` (an analytics query), not
    as an optional `filter` (a listing's, whose fields all have defaults)."""
    return any(field.is_required() for field in model.model_fields.values())


def _parsed(arg: Arg, value: Any) -> Any:
    field = to_camel_case(arg.name)
    return value if arg.parse is None or value is None else arg.parse(value, field)


def _returns(op: Operation, output: type) -> Any:
    if op.paged is not None:
        return Connection[output] if op.paged.connection is None else named(op.paged.connection)  # type: ignore[valid-type]
    if op.many:
        return list[output]  # type: ignore[valid-type]
    return output | None if op.nullable else output


def _parameters(op: Operation, gql: GraphQL) -> list[Parameter]:
    def keyword(name: str, annotation: Any, default: Any = REQUIRED) -> Parameter:
        default = Parameter.empty if default is REQUIRED else default
        return Parameter(name, Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    parameters = [keyword("info", Info)]
    if gql.kind == "mutation" and gql.input is None and op.shape is None and not op.args:
        return parameters  # a mutation that takes nothing: `eraseMyPersonalData`
    if gql.kind == "mutation":
        return [*parameters, keyword("input", _input(op, gql, op.args))]
    model = gql.shape or op.shape
    if gql.input is not None and model is not None and _requires(model):
        parameters.append(keyword("input", _input(op, gql, ())))  # a query's `input: X!`
    elif gql.input is not None:
        parameters.append(keyword("filter", _input(op, gql, ()) | None, None))
    plain = [arg for arg in op.args if arg.graphql is not None]
    return parameters + [keyword(arg.name, arg.graphql, arg.default) for arg in plain]
