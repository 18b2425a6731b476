"""What tools that introspect the API see (GraphiQL's docs explorer, graphql-codegen, Apollo):
the full standard introspection query answers without errors and describes exactly the schema
the server runs; and `docs/schema.graphql` is that schema, printed from the code."""

from __future__ import annotations

from typing import cast

from fastapi.testclient import TestClient
from graphql import (
    IntrospectionQuery,
    build_client_schema,
    get_introspection_query,
    print_schema,
)
from print_schema import SCHEMA_FILE, printed_schema

from api.graphql.schema import build_schema
from tests.e2e.conftest import Tokens, new_tenant
from tests.e2e.test_graphql_devices import REGISTER, data, gql

# Every option on: the query graphql-codegen and GraphiQL send.
FULL_INTROSPECTION_QUERY = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


def test_the_full_introspection_query_describes_the_schema_the_server_runs(
    api_client: TestClient, tokens: Tokens
) -> None:
    token = tokens(new_tenant(), "viewer")
    result = data(gql(api_client, FULL_INTROSPECTION_QUERY, token))
    client_schema = build_client_schema(cast(IntrospectionQuery, result))
    # Same order on both sides (the client schema lists types as introspection did), so the
    # SDL compares as text. `lexicographic_sort_schema` is no help on the server's side: it
    # rebuilds strawberry's enum types as plain ones, which cannot print a Python enum default.
    assert print_schema(client_schema) == print_schema(build_schema()._schema)


def test_registering_without_metadata_or_with_null_metadata_stores_none(
    api_client: TestClient, tokens: Tokens
) -> None:
    """`RegisterDeviceInput.metadata` has no default a literal can express; omitted or null it
    still means `{}`, as when its default was `{}`."""
    token = tokens(new_tenant(), "operator")
    for metadata in ({}, {"metadata": None}):
        device_input = {"name": "pump", "deviceType": "pump.v2"} | metadata
        device = data(gql(api_client, REGISTER, token, input=device_input))["registerDevice"]
        assert device["metadata"] == {}


def test_docs_schema_graphql_is_what_the_code_prints() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed_schema(), (
        f"{SCHEMA_FILE} differs from the schema the code builds; regenerate it with "
        "`.venv/bin/python scripts/print_schema.py`"
    )
