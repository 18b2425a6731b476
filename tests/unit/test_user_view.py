"""The user as shown is declared once (`api.user_view`, issue 11): the REST response models, the
OpenAPI document and the GraphQL `User`, `NotificationPreferences`, `QuietHours` and `PushToken`
types all carry exactly its fields, with its descriptions; REST and GraphQL show a row alike;
and the enums are the domain's lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest
import strawberry
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from api.app import create_app
from api.auth import ROLES, Principal
from api.graphql.user_types import User
from api.inputs import Input
from api.user_view import (
    Channel,
    PreferencesBody,
    PreferencesPublic,
    ProfileBody,
    PushPlatform,
    PushTokenBody,
    PushTokenPublic,
    QuietHoursBody,
    QuietHoursPublic,
    Role,
    UserPublic,
)
from read_side.users import PushTokenRow, UserRow
from tests.unit.views import graphql_fields, graphql_input_fields, wire_names
from write_side import users as domain

CALLER = Principal(subject="alice", tenant_id="t1", roles=frozenset({"viewer", "guest", "admin"}))
SHAPES: list[tuple[type[BaseModel], str, str]] = [  # model, GraphQL type, OpenAPI component
    (UserPublic, "User", "UserPublic"),
    (PreferencesPublic, "NotificationPreferences", "PreferencesPublic"),
    (QuietHoursPublic, "QuietHours", "QuietHoursPublic"),
    (PushTokenPublic, "PushToken", "PushTokenPublic"),
]


def a_row() -> UserRow:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return UserRow(
        tenant_id="t1",
        user_id=domain.user_id_for("t1", "alice"),
        subject="alice",
        email="a@example.com",
        display_name="Alice",
        phone_e164="+4915112345678",
        time_zone="Europe/Berlin",
        locale="de-DE",
        preferences={
            "channels": {"info": [], "warning": ["sms"], "critical": ["push", "email"]},
            "quiet_hours": {"start": "22:00", "end": "07:00", "days": [0, 4]},
            "critical_overrides_quiet_hours": False,
        },
        push_tokens=(PushTokenRow("0123456789abcdef", "ios", "secret-token", now),),
        version=4,
        updated_at=now,
    )


@pytest.mark.parametrize(("model", "graphql_name", "component"), SHAPES)
def test_graphql_and_openapi_have_exactly_the_definitions_fields_and_descriptions(
    model: type[BaseModel], graphql_name: str, component: str
) -> None:
    graphql = graphql_fields(graphql_name)
    assert list(graphql) == wire_names(model)
    openapi = create_app(None).openapi()["components"]["schemas"][component]["properties"]  # type: ignore[arg-type]
    assert set(openapi) == set(wire_names(model))
    for name, info in model.model_fields.items():
        assert graphql[to_camel(name)].description == info.description, name
        assert openapi[to_camel(name)].get("description") == info.description, name


def test_rest_and_graphql_show_a_row_alike() -> None:
    row = a_row()
    rest = UserPublic.from_row(row, CALLER).model_dump(mode="json", by_alias=True)

    @strawberry.type
    class Query:
        me: User = strawberry.field(resolver=lambda: User.of(row, CALLER))

    query = """{ me { id subject tenantId roles email displayName phone timeZone locale version
      preferences { info warning critical criticalOverridesQuietHours
                    quietHours { start end days } }
      pushTokens { id platform registeredAt } } }"""
    result = strawberry.Schema(Query).execute_sync(query)
    assert result.errors is None
    assert result.data is not None
    shown = result.data["me"]
    # Enums: GraphQL shows member names, REST values; the time: the same instant (GraphQL
    # writes UTC as +00:00, REST as Z); everything else is the same JSON.
    assert shown.pop("roles") == [r.upper() for r in rest.pop("roles")] == ["ADMIN", "VIEWER"]
    for name in ("info", "warning", "critical"):
        assert shown["preferences"].pop(name) == [c.upper() for c in rest["preferences"].pop(name)]
    [shown_token], [rest_token] = shown.pop("pushTokens"), rest.pop("pushTokens")
    assert shown_token.pop("platform") == rest_token.pop("platform").upper() == "IOS"
    at = shown_token.pop("registeredAt"), rest_token.pop("registeredAt")
    assert datetime.fromisoformat(at[0]) == datetime.fromisoformat(at[1])
    assert shown_token == rest_token == {"id": "0123456789abcdef"}
    assert shown == rest
    assert "secret-token" not in str(rest)


def test_before_the_first_change_both_show_the_defaults() -> None:
    shown = UserPublic.from_row(None, CALLER)
    assert (shown.version, shown.email, shown.time_zone, shown.locale) == (0, None, "UTC", "en")
    assert shown.preferences.critical == [Channel.EMAIL, Channel.PUSH]
    assert shown.push_tokens == []


def test_the_api_enums_are_the_domains_lists() -> None:
    assert {r.value for r in Role} == set(ROLES)
    assert tuple(c.value for c in Channel) == domain.CHANNELS
    assert tuple(p.value for p in PushPlatform) == get_args(domain.PushPlatform)


@pytest.mark.parametrize(
    ("model", "graphql_name"),
    [
        (ProfileBody, "UpdateProfileInput"),
        (PreferencesBody, "NotificationPreferencesInput"),
        (QuietHoursBody, "QuietHoursInput"),
        (PushTokenBody, "RegisterPushTokenInput"),
    ],
)
def test_the_rest_bodies_and_graphql_inputs_take_exactly_the_shapes_fields(
    model: type[Input], graphql_name: str
) -> None:
    """The wire name is the alias (`phone` for the command's `phone_e164`) on both."""
    names = [info.alias or to_camel(name) for name, info in model.model_fields.items()]
    graphql = graphql_input_fields(graphql_name)
    assert list(graphql) == names
    openapi = create_app(None).openapi()["components"]["schemas"][model.__name__]["properties"]  # type: ignore[arg-type]
    assert set(openapi) == set(names)
    for name, info in model.model_fields.items():
        wire = info.alias or to_camel(name)
        assert graphql[wire].description == info.description, name
        assert openapi[wire].get("description") == info.description, name
