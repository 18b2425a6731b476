"""The users operations (`api.operations`): the caller's own profile (`me`), notification
preferences and push tokens (`profile:self`, every role), each declared once for REST
(`/users/me*`) and GraphQL. Reads and writes answer from the same source, the users read model:
`me` reads it (before the caller's first change: defaults built from the token, version 0, which
`If-Match` may then name), and every write takes the one command path (`api.command_path`), so
it answers with (and a following read sees) the read model's row. Only when the read model is
behind (or not wired) is the row built from the user just saved (`row_of`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, TypeVar
from uuid import UUID

import strawberry
from anyio import to_thread
from fastapi import Path

from api.auth import Permission, Principal
from api.command_path import build_command, run_command
from api.operations import MUTATION, QUERY, Arg, Call, GraphQL, Operation, Rest, parse_id
from api.ports import FleetSystem
from api.rest.errors import conflict
from api.user_view import (
    ErasurePublic,
    PreferencesBody,
    ProfileBody,
    PushTokenBody,
    PushTokenPublic,
    UserPublic,
)
from event_store.envelope import EventMetadata
from read_side.users import PushTokenRow, UserRow
from write_side.application import Saved
from write_side.errors import NotFound
from write_side.user_commands import (
    ErasePersonalData,
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.user_service import UserService
from write_side.users import User, push_token_id, user_id_for

C = TypeVar("C")
Handler = Callable[[str, C, EventMetadata], Saved[User]]  # e.g. UserService.update_my_profile
TOKEN_ID = Arg("token_id", Annotated[str, Path(alias="tokenId")], strawberry.ID)
USER_ID = Arg(
    "user_id",
    Annotated[UUID, Path(alias="userId", description="The user's id (a UUID).")],
    strawberry.ID,
    parse=parse_id("a user id"),
)


async def read_me(system: FleetSystem, caller: Principal) -> UserRow | None:
    """The caller's row in the users read model; None before their first change."""
    user_id = user_id_for(caller.tenant_id, caller.subject)
    return await to_thread.run_sync(_read(system), caller.tenant_id, user_id)


async def get_me(call: Call) -> UserPublic:
    return UserPublic.from_row(await read_me(call.system, call.caller), call.caller)


async def update_profile(call: Call) -> UserPublic:
    """Only the fields sent change (`null` clears)."""
    command = build_command(UpdateMyProfile, call.shape.model_dump(exclude_unset=True))
    return await _user_command(call, call.system.user_service.update_my_profile, command)


async def set_preferences(call: Call) -> UserPublic:
    command = build_command(SetNotificationPreferences, call.shape.model_dump(mode="json"))
    handle = call.system.user_service.set_notification_preferences
    return await _user_command(call, handle, command)


async def register_push_token(call: Call) -> UserPublic:
    command = build_command(RegisterPushToken, call.shape.model_dump(mode="json"))
    return await _user_command(call, call.system.user_service.register_push_token, command)


async def remove_push_token(call: Call) -> UserPublic:
    fields = {"token_id": str(call["token_id"]), "reason": "user"}
    command = build_command(RemovePushToken, fields)
    return await _user_command(call, call.system.user_service.remove_my_push_token, command)


async def erase_me(call: Call) -> ErasurePublic:
    """Erase the caller's own personal data (docs/audit.md 19.7)."""
    handle = call.system.user_service.erase_my_personal_data
    row = await run_user_command(call.system, call.caller, handle, ErasePersonalData())
    return ErasurePublic(user_id=row.user_id, version=row.version)


async def erase_user(call: Call) -> ErasurePublic:
    """An administrator erases a user's personal data (docs/audit.md 19.7)."""
    command = build_command(ErasePersonalData, {"user_id": call["user_id"]})
    row = await run_command(
        call.system,
        call.caller,
        call.system.user_service.erase_personal_data,
        command,
        read=_read(call.system),
        fallback=_row_of_saved,
    )
    return ErasurePublic(user_id=row.user_id, version=row.version)


def registered_token(call: Call, user: UserPublic) -> PushTokenPublic:
    """REST's answer to registering a push token: the token registered (GraphQL: the user)."""
    registered = push_token_id(call.shape.token)
    return next(token for token in user.push_tokens if token.id == registered)


async def _user_command(call: Call, handle: Handler[C], command: C) -> UserPublic:
    row = await run_user_command(call.system, call.caller, handle, command)
    return UserPublic.from_row(row, call.caller)


SELF = Permission.PROFILE_SELF
EDIT = Permission.EDIT_PROFILE
CHANGED = conflict("profile")
OPERATIONS = (
    Operation(
        "get_me", SELF, get_me, UserPublic,
        rest=Rest(
            "GET", "/users/me", "My profile (defaults from the token before the first change)"
        ),
        graphql=GraphQL("me", QUERY),
    ),
    Operation(
        "put_me", EDIT, update_profile, UserPublic, shape=ProfileBody,
        rest=Rest(
            "PUT", "/users/me", "Update my profile (fields sent only)",
            if_match="a user", lowest=0, responses=CHANGED,
        ),
        graphql=GraphQL("update_my_profile", MUTATION, input="UpdateProfileInput"),
    ),
    Operation(
        "put_preferences", EDIT, set_preferences, UserPublic, shape=PreferencesBody,
        rest=Rest(
            "PUT", "/users/me/preferences", "Set my notification preferences",
            if_match="a user", lowest=0, responses=CHANGED,
        ),
        graphql=GraphQL(
            "set_notification_preferences", MUTATION, input="NotificationPreferencesInput"
        ),
    ),
    Operation(
        "post_device_token", EDIT, register_push_token, UserPublic, shape=PushTokenBody,
        rest=Rest(
            "POST", "/users/me/device-tokens", "Register a push token of my device",
            status=201, etag=False, model=PushTokenPublic, answer=registered_token,
            location=lambda token: f"/users/me/device-tokens/{token.id}",
        ),
        graphql=GraphQL("register_push_token", MUTATION, input="RegisterPushTokenInput"),
    ),
    Operation(
        "delete_device_token", EDIT, remove_push_token, UserPublic, args=(TOKEN_ID,),
        rest=Rest(
            "DELETE", "/users/me/device-tokens/{tokenId}", "Remove a push token", status=204,
            etag=False, responses={404: {"description": "No such token."}},
        ),
        graphql=GraphQL("remove_push_token", MUTATION, input="RemovePushTokenInput"),
    ),
    Operation(
        "erase_me", EDIT, erase_me, ErasurePublic,
        rest=Rest(
            "DELETE", "/users/me", "Erase my personal data (email, name, phone, push tokens)",
            etag=False, responses={404: {"description": "Nothing is recorded for you."}},
        ),
        graphql=GraphQL("erase_my_personal_data", MUTATION),
    ),
    Operation(
        "erase_user", Permission.ERASE_USERS, erase_user, ErasurePublic, args=(USER_ID,),
        rest=Rest(
            "DELETE", "/users/{userId}/personal-data", "Erase a user's personal data",
            etag=False, responses={404: {"description": "No such user."}},
        ),
        graphql=GraphQL("erase_user_personal_data", MUTATION, input="ErasePersonalDataInput"),
    ),
)  # fmt: skip


async def run_user_command(
    system: FleetSystem, caller: Principal, handle: Handler[C], command: C
) -> UserRow:
    """A users command for the caller (addressed by their subject) through the one command
    path: the read model's row once it holds the change, else the user as saved."""
    bound: Callable[[C, EventMetadata], Saved[User]] = partial(handle, caller.subject)
    return await run_command(
        system, caller, bound, command, read=_read(system), fallback=_row_of_saved
    )


def _read(system: FleetSystem) -> Callable[[str, UUID], UserRow | None]:
    users = system.users
    if users is not None:
        return users.get
    # No users read model wired: the user's (short) stream answers.
    return lambda tenant_id, user_id: _row_of_stream(system.user_service, tenant_id, user_id)


def _row_of_stream(users: UserService, tenant_id: str, user_id: UUID) -> UserRow | None:
    try:
        return row_of(users.get(tenant_id, user_id))
    except NotFound:
        return None


def _row_of_saved(saved: Saved[User], row: UserRow | None) -> UserRow:
    return row_of(saved.aggregate)


def row_of(user: User) -> UserRow:
    """The read-model row of a user as saved (what `me` reads once the model catches up)."""
    return UserRow(
        tenant_id=user.tenant_id,
        user_id=user.id,
        subject=user.subject,
        email=user.email,
        display_name=user.display_name,
        phone_e164=user.phone_e164,
        time_zone=user.time_zone,
        locale=user.locale,
        preferences=user.preferences,
        push_tokens=tuple(
            PushTokenRow(t.token_id, t.platform, t.token, t.registered_at)
            for t in user.push_tokens.values()
        ),
        version=user.version,
        updated_at=user.modified_on,
    )
