"""What the one-definition tests of each resource (`test_*_view.py`) ask of both adapters: the
wire names of a definition, the fields of a GraphQL type or input and of an OpenAPI component, a
schema that shows one value, and JSON compared with times as instants."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import strawberry
from fastapi import FastAPI
from graphql import GraphQLInputObjectType, GraphQLObjectType
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from api.graphql.scalars import SCALAR_MAP
from api.graphql.schema import build_schema


def wire_names(model: type[BaseModel]) -> list[str]:
    return [to_camel(name) for name in model.model_fields]


def graphql_fields(type_name: str) -> dict[str, Any]:
    graphql_type = build_schema()._schema.get_type(type_name)
    assert isinstance(graphql_type, GraphQLObjectType)
    return dict(graphql_type.fields)


def graphql_input_fields(type_name: str) -> dict[str, Any]:
    graphql_type = build_schema()._schema.get_type(type_name)
    assert isinstance(graphql_type, GraphQLInputObjectType)
    return dict(graphql_type.fields)


@functools.cache
def the_app() -> FastAPI:
    """The real app without a system, made once per process: FastAPI keeps its OpenAPI
    document once made (`app.openapi()`), which took about a second to make each time."""
    from api.app import create_app

    return create_app(None)


def openapi_properties(app: FastAPI, component: str) -> dict[str, Any]:
    properties: dict[str, Any] = app.openapi()["components"]["schemas"][component]["properties"]
    return properties


def schema_showing(graphql_type: type, value: object) -> strawberry.Schema:
    @strawberry.type
    class Query:
        d: Any = strawberry.field(resolver=lambda: value, graphql_type=graphql_type)

    return strawberry.Schema(Query, scalar_overrides=SCALAR_MAP)


def same_times(value: Any) -> Any:
    """The JSON value with every ISO time parsed, so two spellings of an instant compare equal."""
    if isinstance(value, dict):
        return {k: same_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [same_times(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return datetime.fromisoformat(value)
    return value
