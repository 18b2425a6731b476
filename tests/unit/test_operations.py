"""The operation table's two adapters (`api.rest.routes`, `api.graphql.fields`), driven by a
throwaway table of one resource: one entry is a REST route and a GraphQL field, each taking
its arguments, permission, `If-Match`, `ETag`, `Location` and errors from the entry alone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any
from uuid import UUID, uuid4

import anyio
import strawberry
from fastapi import FastAPI, Path
from fastapi.testclient import TestClient
from pydantic import Field

from api.auth import Permission, Principal, issue_token
from api.device_view import View
from api.graphql.context import GraphQLContext
from api.graphql.derive import derived_input, derived_type
from api.graphql.errors import ErrorCodes
from api.graphql.fields import root_type
from api.graphql.scalars import SCALAR_MAP
from api.inputs import Input
from api.operations import MUTATION, QUERY, Arg, Call, GraphQL, Operation, Rest, parse_id
from api.rest.errors import install_error_handlers
from api.rest.routes import router_of
from fleetwatch.settings import Settings

SETTINGS = Settings()


class WidgetPublic(View):
    id: UUID
    name: str
    version: int


@derived_type(WidgetPublic, name="Widget")
class Widget:
    view: strawberry.Private[WidgetPublic]


class WidgetRename(Input):
    name: str = Field(max_length=5)
    expected_version: int | None = Field(default=None, ge=1)


@derived_input(WidgetRename, name="RenameWidgetInput")
class RenameWidgetInput:
    id: strawberry.ID


CALLS: list[Call] = []


async def rename(call: Call) -> WidgetPublic:
    CALLS.append(call)
    return WidgetPublic(id=call["id"], name=call.shape.name, version=7)


async def find(call: Call) -> WidgetPublic | None:
    return None


WIDGET_ID = Arg(
    "id", Annotated[UUID, Path(alias="widgetId")], strawberry.ID, parse=parse_id("a widget id")
)
OPERATIONS = (
    Operation(
        "get_widget", Permission.READ_DEVICES, find, WidgetPublic, args=(WIDGET_ID,),
        nullable=True, missing="widget {id} not found",
        rest=Rest("GET", "/widgets/{widgetId}", "Show a widget"),
        graphql=GraphQL("widget", QUERY),
    ),
    Operation(
        "rename_widget", Permission.WRITE_DEVICES, rename, WidgetPublic, shape=WidgetRename,
        args=(WIDGET_ID,),
        rest=Rest(
            "PUT", "/widgets/{widgetId}", "Rename a widget", status=201, if_match="a widget",
            location=lambda widget: f"/widgets/{widget.id}", headers={"Cache-Control": "no-store"},
        ),
        graphql=GraphQL("rename_widget", MUTATION, input="RenameWidgetInput"),
    ),
)  # fmt: skip


def client() -> TestClient:
    app = FastAPI()
    app.state.system = SimpleNamespace(settings=SETTINGS)
    install_error_handlers(app)
    app.include_router(router_of(OPERATIONS, "widgets"))
    return TestClient(app)


def headers(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, 'ann', 't1', [role], 600)}"}


def test_a_rest_write_takes_its_shape_path_and_if_match_and_answers_as_the_entry_says() -> None:
    CALLS.clear()
    widget = uuid4()
    answer = client().put(
        f"/widgets/{widget}",
        json={"name": "cog"},
        headers=headers("operator") | {"If-Match": '"4"'},
    )
    assert answer.status_code == 201
    assert answer.json() == {"id": str(widget), "name": "cog", "version": 7}
    assert answer.headers["ETag"] == '"7"'
    assert answer.headers["Location"] == f"/widgets/{widget}"
    assert answer.headers["Cache-Control"] == "no-store"
    (call,) = CALLS
    assert call["id"] == widget
    assert call.shape.expected_version == 4
    assert call.caller.tenant_id == "t1"


def test_rest_refuses_by_the_entrys_permission_and_the_shapes_model() -> None:
    widget, rest = uuid4(), client()
    denied = rest.put(f"/widgets/{widget}", json={"name": "cog"}, headers=headers("viewer"))
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "FORBIDDEN")
    long = rest.put(f"/widgets/{widget}", json={"name": "sprocket"}, headers=headers("operator"))
    assert (long.status_code, long.json()["error"]["field"]) == (422, "name")
    stale = rest.put(
        f"/widgets/{widget}", json={"name": "cog"}, headers=headers("operator") | {"If-Match": "x"}
    )
    assert (stale.status_code, stale.json()["error"]["field"]) == (422, "If-Match")


def test_a_rest_read_that_finds_nothing_is_not_found() -> None:
    widget = uuid4()
    answer = client().get(f"/widgets/{widget}", headers=headers("viewer"))
    assert answer.status_code == 404
    assert answer.json()["error"] == {"code": "NOT_FOUND", "message": f"widget {widget} not found"}


def test_the_openapi_document_has_the_entrys_parameters_body_and_status() -> None:
    put = client().get("/openapi.json").json()["paths"]["/widgets/{widgetId}"]["put"]
    assert [(p["in"], p["name"]) for p in put["parameters"]] == [
        ("path", "widgetId"),
        ("header", "If-Match"),
    ]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/WidgetRename"}
    assert "201" in put["responses"]
    assert put["summary"] == "Rename a widget"


def schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=root_type(OPERATIONS, QUERY),
        mutation=root_type(OPERATIONS, MUTATION),
        scalar_overrides=SCALAR_MAP,
        extensions=[ErrorCodes],
    )


def run(document: str, role: str) -> Any:
    caller = Principal(subject="ann", tenant_id="t1", roles=frozenset({role}))
    context = GraphQLContext(SimpleNamespace(settings=SETTINGS), caller)  # type: ignore[arg-type]
    return anyio.run(lambda: schema().execute(document, context_value=context))


def test_the_graphql_fields_are_the_entrys() -> None:
    sdl = schema().as_str()
    assert "widget(id: ID!): Widget\n" in sdl
    assert "renameWidget(input: RenameWidgetInput!): Widget!" in sdl


def test_a_graphql_mutation_takes_the_shape_and_arguments_from_its_input() -> None:
    CALLS.clear()
    widget = uuid4()
    result = run(
        f'mutation {{ renameWidget(input: {{id: "{widget}", name: "cog"}}) {{ name }} }}',
        "operator",
    )
    assert result.errors is None
    assert result.data == {"renameWidget": {"name": "cog"}}
    assert CALLS[0]["id"] == widget
    bad = run('mutation { renameWidget(input: {id: "x", name: "cog"}) { name } }', "operator")
    assert bad.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "id"}
    denied = run(
        f'mutation {{ renameWidget(input: {{id: "{widget}", name: "cog"}}) {{ name }} }}', "viewer"
    )
    assert denied.errors[0].extensions == {"code": "FORBIDDEN"}


def test_a_graphql_read_that_finds_nothing_is_null() -> None:
    result = run(f'{{ widget(id: "{uuid4()}") {{ name }} }}', "viewer")
    assert result.errors is None
    assert result.data == {"widget": None}
