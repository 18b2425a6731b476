"""REST users: the caller's own profile, notification preferences and push tokens
(`/users/me*`). Thin: the input shape in (`api.user_view`, GraphQL's inputs are derived from the
same), the shared use case (`api.users`), the user back.

Reads and writes go through `api.users`, as GraphQL's do: `GET /users/me` reads the users read
model, and every write takes the one command path, so it answers with (and a following GET
reads) the read model's row. Before the first change `GET /users/me` answers defaults built
from the token (version 0, which `If-Match` may then name).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response

from api import users
from api.auth import Permission, Principal
from api.rest.deps import SystemDep, require
from api.rest.errors import CONFLICT, ERROR_RESPONSES
from api.rest.versions import expected_version
from api.user_view import PreferencesBody, ProfileBody, PushTokenBody, PushTokenPublic, UserPublic
from read_side.users import UserRow
from write_side.users import push_token_id

Me = Annotated[Principal, Depends(require(Permission.PROFILE_SELF))]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The version the change expects, e.g. `"3"` (ETag).'),
]
router = APIRouter(prefix="/users/me", tags=["users"], responses=ERROR_RESPONSES)


@router.get("", summary="My profile (defaults from the token before the first change)")
async def get_me(caller: Me, system: SystemDep, response: Response) -> UserPublic:
    return _public(caller, await users.read_me(system, caller), response)


@router.put("", summary="Update my profile (fields sent only)", responses=CONFLICT)
async def put_me(
    body: ProfileBody, caller: Me, system: SystemDep, response: Response, if_match: IfMatch = None
) -> UserPublic:
    body.expected_version = _expected_version(body.expected_version, if_match)
    return _public(caller, await users.update_profile(system, caller, body), response)


@router.put("/preferences", summary="Set my notification preferences", responses=CONFLICT)
async def put_preferences(
    body: PreferencesBody,
    caller: Me,
    system: SystemDep,
    response: Response,
    if_match: IfMatch = None,
) -> UserPublic:
    body.expected_version = _expected_version(body.expected_version, if_match)
    return _public(caller, await users.set_preferences(system, caller, body), response)


@router.post("/device-tokens", status_code=201, summary="Register a push token of my device")
async def post_device_token(
    body: PushTokenBody, caller: Me, system: SystemDep, response: Response
) -> PushTokenPublic:
    row = await users.register_push_token(system, caller, body)
    registered = push_token_id(body.token)
    token = next(t for t in UserPublic.from_row(row, caller).push_tokens if t.id == registered)
    response.headers["Location"] = f"/users/me/device-tokens/{token.id}"
    return token


@router.delete(
    "/device-tokens/{tokenId}",
    status_code=204,
    summary="Remove a push token",
    responses={404: {"description": "No such token."}},
)
async def delete_device_token(
    token_id: Annotated[str, Path(alias="tokenId")], caller: Me, system: SystemDep
) -> Response:
    await users.remove_push_token(system, caller, token_id)
    return Response(status_code=204)


def _expected_version(given: int | None, if_match: str | None) -> int | None:
    # Version 0 is the user before their first change: the ETag `GET /users/me` answers then.
    return expected_version(given, if_match, "a user", lowest=0)


def _public(caller: Principal, row: UserRow | None, response: Response) -> UserPublic:
    shown = UserPublic.from_row(row, caller)
    response.headers["ETag"] = f'"{shown.version}"'
    return shown
