"""REST users: the caller's own profile, notification preferences and push tokens
(`/users/me*`). Thin: a request model in, a command out, the user back.

Reads and writes go through `api.users`, as GraphQL's do: `GET /users/me` reads the users read
model, and every write takes the one command path, so it answers with (and a following GET
reads) the read model's row. Before the first change `GET /users/me` answers defaults built
from the token (version 0, which `If-Match` may then name). The user as shown is
`api.user_view.UserPublic`, the one definition GraphQL's `User` is derived from too.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Response
from pydantic import Field

from api.auth import Permission, Principal
from api.command_path import build_command
from api.rest.deps import SystemDep, require
from api.rest.errors import CONFLICT, ERROR_RESPONSES
from api.rest.models import CamelModel
from api.rest.versions import expected_version
from api.user_view import PushTokenPublic, UserPublic
from api.users import read_me, run_user_command
from read_side.users import UserRow
from write_side.commands import Command
from write_side.errors import InvalidInput
from write_side.user_commands import (
    Channels,
    ClockTime,
    DisplayName,
    Email,
    Locale,
    PhoneE164,
    PushTokenValue,
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    TimeZoneName,
    UpdateMyProfile,
)
from write_side.users import PushPlatform, push_token_id

CommandT = TypeVar("CommandT", bound=Command)


Me = Annotated[Principal, Depends(require(Permission.PROFILE_SELF))]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The version the change expects, e.g. `"3"` (ETag).'),
]
router = APIRouter(prefix="/users/me", tags=["users"], responses=ERROR_RESPONSES)


class QuietHoursBody(CamelModel):
    start: ClockTime = Field(examples=["22:00"])
    end: ClockTime = Field(examples=["07:00"])
    days: list[int] | None = Field(default=None, description="Start days, 0 = Monday; null: all.")


class PreferencesBody(CamelModel):
    expected_version: int | None = Field(default=None, ge=0)
    info: Channels = Field(default_factory=list)
    warning: Channels = Field(default_factory=list)
    critical: Channels = Field(default_factory=list)
    quiet_hours: QuietHoursBody | None = None
    critical_overrides_quiet_hours: bool = True


class ProfileBody(CamelModel):
    """Only the fields sent change; `null` clears email, displayName or phone."""

    expected_version: int | None = Field(default=None, ge=0)
    email: Email | None = None
    display_name: DisplayName | None = None
    phone: PhoneE164 | None = Field(default=None, description="E.164, e.g. +4915112345678.")
    time_zone: TimeZoneName | None = Field(default=None, description="IANA, e.g. Europe/Berlin.")
    locale: Locale | None = None


class PushTokenBody(CamelModel):
    token: PushTokenValue
    platform: PushPlatform


@router.get("", summary="My profile (defaults from the token before the first change)")
async def get_me(caller: Me, system: SystemDep, response: Response) -> UserPublic:
    return _public(caller, await read_me(system, caller), response)


@router.put("", summary="Update my profile (fields sent only)", responses=CONFLICT)
async def put_me(
    body: ProfileBody, caller: Me, system: SystemDep, response: Response, if_match: IfMatch = None
) -> UserPublic:
    fields = body.model_dump(exclude={"expected_version", "phone"}, exclude_unset=True)
    if "phone" in body.model_fields_set:
        fields["phone_e164"] = body.phone
    fields["expected_version"] = _expected_version(body.expected_version, if_match)
    command = _command(UpdateMyProfile, fields)
    row = await run_user_command(system, caller, system.user_service.update_my_profile, command)
    return _public(caller, row, response)


@router.put("/preferences", summary="Set my notification preferences", responses=CONFLICT)
async def put_preferences(
    body: PreferencesBody,
    caller: Me,
    system: SystemDep,
    response: Response,
    if_match: IfMatch = None,
) -> UserPublic:
    fields = body.model_dump(exclude={"expected_version"})
    fields["expected_version"] = _expected_version(body.expected_version, if_match)
    command = _command(SetNotificationPreferences, fields)
    row = await run_user_command(
        system, caller, system.user_service.set_notification_preferences, command
    )
    return _public(caller, row, response)


@router.post("/device-tokens", status_code=201, summary="Register a push token of my device")
async def post_device_token(
    body: PushTokenBody, caller: Me, system: SystemDep, response: Response
) -> PushTokenPublic:
    command = _command(RegisterPushToken, body.model_dump())
    row = await run_user_command(system, caller, system.user_service.register_push_token, command)
    registered = push_token_id(command.token)
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
    command = _command(RemovePushToken, {"token_id": token_id, "reason": "user"})
    await run_user_command(system, caller, system.user_service.remove_my_push_token, command)
    return Response(status_code=204)


_REST_FIELDS = {"phone_e164": "phone", "token_id": "tokenId"}


def _command(command_class: type[CommandT], fields: dict[str, Any]) -> CommandT:
    """The command, with a validation error's field named as the client sent it."""
    try:
        return build_command(command_class, fields)
    except InvalidInput as e:
        raise InvalidInput(e.message, field=_REST_FIELDS.get(e.field or "", e.field)) from None


def _expected_version(given: int | None, if_match: str | None) -> int | None:
    # Version 0 is the user before their first change: the ETag `GET /users/me` answers then.
    return expected_version(given, if_match, "a user", lowest=0)


def _public(caller: Principal, row: UserRow | None, response: Response) -> UserPublic:
    shown = UserPublic.from_row(row, caller)
    response.headers["ETag"] = f'"{shown.version}"'
    return shown
