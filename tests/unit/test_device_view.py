"""The device as shown is declared once (`api.device_view.DevicePublic`, issue 11): the REST
response model, the OpenAPI document and the GraphQL `Device` type all carry exactly its fields,
with its descriptions, and a field added to it shows up in all three without another edit. So is
each input shape: the REST body and the GraphQL input derived from it take exactly its fields,
with its defaults, and a field added to it is taken by both."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import strawberry
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import Field
from pydantic.alias_generators import to_camel

from api.device_view import (
    DeviceCreate,
    DeviceDecommission,
    DevicePublic,
    DeviceQuery,
    DeviceUpdate,
    MetricValuePublic,
    Severity,
)
from api.devices import device_status_from_notice_data
from api.graphql.derive import derived_input, derived_type, model_of
from api.graphql.scalars import SCALAR_MAP
from api.graphql.types import Device
from api.inputs import Input
from projections.device_status import status_to_json
from read_side.device_status import DeviceStatus
from tests.unit.views import (
    graphql_fields,
    graphql_input_fields,
    openapi_properties,
    same_times,
    schema_showing,
    the_app,
    wire_names,
)
from write_side.severity import SEVERITIES, severity_rank

WIRE_NAMES = {to_camel(name) for name in DevicePublic.model_fields}


class WithColour(DevicePublic):
    """A throwaway definition: the device with one field more."""

    colour: str | None = Field(default=None, description="Paint colour.")


@derived_type(WithColour, name="DeviceWithColour")
class DeviceWithColour:
    view: strawberry.Private[WithColour]

    def __init__(self, view: WithColour) -> None:
        self.view = view


def a_status() -> DeviceStatus:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return DeviceStatus(
        device_id=uuid4(),
        tenant_id="t1",
        name="pump",
        device_type="pump.v2",
        tags=("north",),
        metadata={"site": "a"},
        lifecycle="active",
        version=3,
        registered_at=now,
        updated_at=now,
        online=True,
        last_seen_at=now,
        last_values={"temp": 21.5},
        last_values_at={"temp": now},
        open_alerts={"a1": "warning"},
    )


def test_the_graphql_device_type_has_exactly_the_definitions_fields() -> None:
    assert set(graphql_fields("Device")) == WIRE_NAMES
    assert list(graphql_fields("Device")) == [to_camel(n) for n in DevicePublic.model_fields]


def test_the_openapi_document_has_exactly_the_definitions_fields() -> None:
    assert set(openapi_properties(the_app(), "DevicePublic")) == WIRE_NAMES


def test_both_adapters_carry_the_definitions_descriptions() -> None:
    openapi = openapi_properties(the_app(), "DevicePublic")
    graphql = graphql_fields("Device")
    for name, info in DevicePublic.model_fields.items():
        if info.description is None or name == "last_values":  # lastValues: its own resolver
            continue
        assert graphql[to_camel(name)].description == info.description, name
        assert openapi[to_camel(name)]["description"] == info.description, name
    at = MetricValuePublic.model_fields["at"].description
    assert graphql_fields("MetricValue")["at"].description == at


def test_rest_and_graphql_show_a_row_alike() -> None:
    status = a_status()
    rest = DevicePublic.from_status(status).model_dump(mode="json", by_alias=True)
    query = (
        "{ d { "
        + " ".join(sorted(WIRE_NAMES - {"lastValues"}))
        + " lastValues { metric value at } } }"
    )

    result = schema_showing(Device, Device.from_status(status)).execute_sync(query)
    assert result.errors is None
    assert result.data is not None
    shown = result.data["d"]
    # Enums: GraphQL shows member names, REST values; times are the same instants (GraphQL
    # writes UTC as +00:00, REST as Z, as they always did); everything else is the same JSON.
    for name in ("lifecycle", "connectivity", "highestOpenSeverity"):
        assert shown.pop(name) == rest.pop(name).upper()
    assert same_times(shown) == same_times(rest)


def test_a_field_added_to_the_definition_shows_in_rest_openapi_and_graphql() -> None:
    status = a_status()

    shown = WithColour.from_status(status).model_copy(update={"colour": "red"})
    schema = schema_showing(DeviceWithColour, DeviceWithColour(shown))
    assert '"""Paint colour."""\n  colour: String' in schema.as_str()
    result = schema.execute_sync("{ d { colour name } }")
    assert result.data == {"d": {"colour": "red", "name": "pump"}}

    app = FastAPI()

    @app.get("/d")
    def show() -> WithColour:
        return WithColour.from_status(status)

    properties = openapi_properties(app, "WithColour")
    assert set(properties) == WIRE_NAMES | {"colour"}
    assert properties["colour"]["description"] == "Paint colour."
    assert WithColour.from_status(status).model_dump(by_alias=True)["colour"] is None


def test_a_change_notice_carries_every_field_of_the_row() -> None:
    """`deviceChanged`/`deviceStatusChanged` rebuild the row from the notice by the row's own
    field list: every field, set to something other than its default, comes back as sent."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    status = replace(
        a_status(),
        lifecycle="decommissioned",
        decommissioned_at=now,
        decommission_reason="scrapped",
        position=41,
        credential_id="cred-1",
        firmware_version="1.2.3",
        battery=87.5,
        rssi=-70.0,
        telemetry_version=9,
    )
    defaults = DeviceStatus(
        device_id=status.device_id,
        tenant_id="",
        name="",
        device_type="",
        tags=(),
        metadata={},
        lifecycle="active",
        version=0,
        registered_at=datetime.min.replace(tzinfo=UTC),
        updated_at=datetime.min.replace(tzinfo=UTC),
    )
    unset = [
        f.name for f in fields(DeviceStatus) if getattr(status, f.name) == getattr(defaults, f.name)
    ]
    assert unset == ["device_id"]  # the test row sets every other field
    wire = json.loads(json.dumps(status_to_json(status)))  # what the fan-out carries
    assert device_status_from_notice_data(wire) == status


def test_the_api_severity_enum_is_the_domains_list() -> None:
    assert tuple(s.value for s in Severity) == SEVERITIES
    assert [severity_rank(s.value) for s in Severity] == [0, 1, 2]


@pytest.mark.parametrize(
    ("model", "graphql_name", "own"),
    [
        (DeviceCreate, "RegisterDeviceInput", []),
        (DeviceUpdate, "UpdateDeviceInput", ["id"]),  # REST: the path's deviceId
        (DeviceDecommission, "DecommissionDeviceInput", ["id"]),
        (DeviceQuery, "DeviceFilter", []),
    ],
)
def test_the_graphql_inputs_take_exactly_the_shapes_fields(
    model: type[Input], graphql_name: str, own: list[str]
) -> None:
    assert list(graphql_input_fields(graphql_name)) == own + wire_names(model)


def test_the_rest_bodies_are_the_shapes() -> None:
    for model in (DeviceCreate, DeviceUpdate):
        openapi = openapi_properties(the_app(), model.__name__)
        assert set(openapi) == set(wire_names(model))


class Coloured(DeviceCreate):
    """A throwaway input shape: registering with one field more."""

    colour: str = Field(default="grey", description="Paint colour.")


@derived_input(Coloured, name="ColouredInput")
class ColouredInput:
    pass


def test_a_field_added_to_an_input_shape_is_taken_by_rest_and_graphql() -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def take(self, input: ColouredInput) -> str:
            return model_of(input, Coloured).model_dump_json()

    schema = strawberry.Schema(Query, scalar_overrides=SCALAR_MAP)
    assert '"""Paint colour."""\n  colour: String! = "grey"' in schema.as_str()
    # A default GraphQL cannot print (`{}`) is null there, and null means that default.
    assert 'omitted or null means none (`{}`)."""\n  metadata: JSON = null' in schema.as_str()
    result = schema.execute_sync(
        '{ take(input: {name: "pump", deviceType: "p", colour: "red", metadata: null}) }'
    )
    assert result.errors is None
    assert result.data is not None
    taken = json.loads(result.data["take"])
    assert (taken["colour"], taken["metadata"], taken["tags"]) == ("red", {}, [])

    app = FastAPI()

    @app.post("/d")
    def take(body: Coloured) -> Coloured:
        return body

    assert openapi_properties(app, "Coloured")["colour"]["description"] == "Paint colour."
    sent = {"name": "pump", "deviceType": "p", "colour": "red"}
    assert TestClient(app).post("/d", json=sent).json()["colour"] == "red"
