"""REST `/users/me*` and GraphQL `me` and the user mutations answer from one source, the users
read model, through the one command path (`api.users`): a write answers with the read model's
row once it holds the change (read-your-writes), with the user as saved while the read model is
behind, and `GET /users/me` and `me` read the row. The application is the real one on
eventsourcing's in-memory store; only the read model is staged: its row of a user is the user
as saved plus a display name only it knows, so an answer shows which source it came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from api.rest.versions import expected_version
from api.users import row_of
from fleetwatch.settings import Settings
from read_side.users import UserRow, UsersReader
from write_side.application import FleetApplication
from write_side.errors import InvalidInput, NotFound
from write_side.user_service import UserService
from write_side.users import user_id_for

ROW_ONLY = "known to the read model only"
ME = "{ me { displayName email version } }"
UPDATE = """mutation($input: UpdateProfileInput!) {
  updateMyProfile(input: $input) { displayName email version } }"""


class StagedUsers(UsersReader):
    """The users read model: each user's row as saved, marked; none while `behind`."""

    def __init__(self, service: UserService) -> None:
        self.service = service
        self.behind = False
        self.rows: dict[UUID, UserRow] = {}

    def get(self, tenant_id: str, user_id: UUID) -> UserRow | None:
        if user_id in self.rows:
            return self.rows[user_id]
        if self.behind:
            return None
        try:
            user = self.service.get(tenant_id, user_id)
        except NotFound:
            return None
        return replace(row_of(user), display_name=ROW_ONLY)

    def tenant_users(self, tenant_id: str) -> list[UserRow]:
        raise NotImplementedError


@dataclass
class StagedSystem:
    """What the users routes and resolvers use of a `FleetSystem`."""

    app: FleetApplication
    settings: Settings = field(default_factory=Settings)
    ingest: Any = None
    waited_for: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.user_service = UserService(self.app)
        self.users = StagedUsers(self.user_service)

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        self.waited_for.append(position)
        return not self.users.behind


@pytest.fixture
def system() -> Iterator[StagedSystem]:
    application = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield StagedSystem(application)
    application.close()


@pytest.fixture
def client(system: StagedSystem) -> Iterator[TestClient]:
    with TestClient(create_app(system)) as test_client:  # type: ignore[arg-type]
        yield test_client


def auth(system: StagedSystem) -> dict[str, str]:
    token = issue_token(system.settings, "alice", "t1", ("viewer",), 600)
    return {"Authorization": f"Bearer {token}"}


def graphql(client: TestClient, system: StagedSystem, query: str, **variables: Any) -> Any:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=auth(system)
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_rest_and_graphql_writes_answer_with_the_read_models_row(
    client: TestClient, system: StagedSystem
) -> None:
    rest = client.put("/users/me", json={"email": "a@example.com"}, headers=auth(system))
    assert rest.status_code == 200, rest.text
    assert (rest.json()["displayName"], rest.json()["version"]) == (ROW_ONLY, 2)
    assert rest.headers["ETag"] == '"2"'
    answer = graphql(client, system, UPDATE, input={"email": "b@example.com"})
    assert answer["updateMyProfile"] == {
        "displayName": ROW_ONLY,
        "email": "b@example.com",
        "version": 3,
    }
    assert system.waited_for[-1] > 0


def test_rest_and_graphql_me_read_the_read_models_row(
    client: TestClient, system: StagedSystem
) -> None:
    client.put("/users/me", json={"email": "a@example.com"}, headers=auth(system))
    user = system.user_service.get("t1", user_id_for("t1", "alice"))
    system.users.rows[user.id] = replace(row_of(user), email="row@example.com")
    shown = client.get("/users/me", headers=auth(system)).json()
    assert (shown["email"], shown["version"]) == ("row@example.com", 2)
    me = graphql(client, system, ME)["me"]
    assert (me["email"], me["version"]) == ("row@example.com", 2)


def test_a_write_the_read_model_has_not_applied_answers_with_the_user_as_saved(
    client: TestClient, system: StagedSystem
) -> None:
    system.users.behind = True
    rest = client.put("/users/me", json={"displayName": "Alice"}, headers=auth(system))
    assert (rest.json()["displayName"], rest.json()["version"]) == ("Alice", 2)
    answer = graphql(client, system, UPDATE, input={"displayName": "Al"})
    assert answer["updateMyProfile"]["displayName"] == "Al"
    assert graphql(client, system, ME)["me"]["version"] == 0  # `me` reads the (lagging) row


def test_if_match_names_a_user_version_from_zero(client: TestClient, system: StagedSystem) -> None:
    assert expected_version(None, '"0"', "a user", lowest=0) == 0
    with pytest.raises(InvalidInput):
        expected_version(None, '"0"', "a device")  # a device has no version 0
    bad = client.put("/users/me", json={}, headers=auth(system) | {"If-Match": '"-1"'})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "If-Match")
    assert client.get("/users/me", headers=auth(system)).json()["version"] == 0  # nothing stored


def test_rest_and_graphql_show_the_same_roles(client: TestClient, system: StagedSystem) -> None:
    """A role the API does not know is shown by neither (GraphQL's enum cannot carry it)."""
    token = issue_token(system.settings, "alice", "t1", ("viewer", "guest"), 600)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/users/me", headers=headers).json()["roles"] == ["viewer"]
    response = client.post("/graphql", json={"query": "{ me { roles } }"}, headers=headers)
    assert response.json() == {"data": {"me": {"roles": ["VIEWER"]}}}


PREFERENCES = """mutation($input: NotificationPreferencesInput!) {
  setNotificationPreferences(input: $input) { version } }"""
PREFS = ("/users/me/preferences", PREFERENCES)
PROFILE = ("/users/me", UPDATE)
QUIET = {"start": "22:00", "end": "07:00"}


@pytest.mark.parametrize(
    ("where", "body", "field"),
    [
        (PREFS, {"quietHours": QUIET | {"start": "25:00"}}, "quietHours.start"),
        (PREFS, {"quietHours": QUIET | {"days": [9]}}, "quietHours.days"),
        (PREFS, {"quietHours": QUIET | {"end": "22:00"}}, "quietHours"),
        (PROFILE, {"phone": "0170 1234567"}, "phone"),
        (PROFILE, {"timeZone": "Mars/Olympus_Mons"}, "timeZone"),
        (PROFILE, {"timeZone": None}, "timeZone"),
    ],
)
def test_rest_and_graphql_name_a_bad_field_alike(
    client: TestClient,
    system: StagedSystem,
    where: tuple[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    """One input shape, one error path (`api.inputs`): a nested field is dotted on both."""
    path, query = where
    if query is PREFERENCES:  # GraphQL requires the channel lists
        body = {"info": [], "warning": [], "critical": []} | body
    rest = client.put(path, json=body, headers=auth(system))
    assert (rest.status_code, rest.json()["error"]["field"]) == (422, field)
    response = client.post(
        "/graphql", json={"query": query, "variables": {"input": body}}, headers=auth(system)
    )
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert error["message"] == rest.json()["error"]["message"]
    assert client.get("/users/me", headers=auth(system)).json()["version"] == 0  # nothing stored
