"""The users use cases both API adapters share: read the caller's row (`me`) and change the
caller's profile, preferences and push tokens from their input shapes (`api.user_view`) through
the one command path (`api.command_path`), so REST `/users/me*` and GraphQL `me` and the user
mutations answer from the same source, the users read model, with read-your-writes. Only when
the read model is behind (or not wired) is the row built from the user just saved (`row_of`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar
from uuid import UUID

from anyio import to_thread

from api.auth import Principal
from api.command_path import build_command, run_command
from api.ports import FleetSystem
from api.user_view import PreferencesBody, ProfileBody, PushTokenBody
from event_store.envelope import EventMetadata
from read_side.users import PushTokenRow, UserRow
from write_side.application import Saved
from write_side.errors import NotFound
from write_side.user_commands import (
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.user_service import UserService
from write_side.users import User, user_id_for

C = TypeVar("C")
Handler = Callable[[str, C, EventMetadata], Saved[User]]  # e.g. UserService.update_my_profile


async def read_me(system: FleetSystem, caller: Principal) -> UserRow | None:
    """The caller's row in the users read model; None before their first change."""
    user_id = user_id_for(caller.tenant_id, caller.subject)
    return await to_thread.run_sync(_read(system), caller.tenant_id, user_id)


async def update_profile(system: FleetSystem, caller: Principal, shape: ProfileBody) -> UserRow:
    """Only the fields sent change (`null` clears)."""
    command = build_command(UpdateMyProfile, shape.model_dump(exclude_unset=True))
    return await run_user_command(system, caller, system.user_service.update_my_profile, command)


async def set_preferences(
    system: FleetSystem, caller: Principal, shape: PreferencesBody
) -> UserRow:
    command = build_command(SetNotificationPreferences, shape.model_dump(mode="json"))
    handle = system.user_service.set_notification_preferences
    return await run_user_command(system, caller, handle, command)


async def register_push_token(
    system: FleetSystem, caller: Principal, shape: PushTokenBody
) -> UserRow:
    command = build_command(RegisterPushToken, shape.model_dump(mode="json"))
    return await run_user_command(system, caller, system.user_service.register_push_token, command)


async def remove_push_token(system: FleetSystem, caller: Principal, token_id: str) -> UserRow:
    command = build_command(RemovePushToken, {"token_id": token_id, "reason": "user"})
    return await run_user_command(system, caller, system.user_service.remove_my_push_token, command)


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
