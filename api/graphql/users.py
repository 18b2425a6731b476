"""GraphQL users slice: `me`, and mutations of the caller's own profile, notification
preferences and push tokens (`profile:self`, every role).

`me` reads the users read model (before the caller's first change: defaults built from the
token, version 0). Mutations run the command, wait (at most 2 s) for the read models to reach
it, and return the user as saved, so a following `me` sees the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import strawberry
from anyio import to_thread
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from api.auth import Permission, Principal
from api.graphql.context import Info
from api.graphql.user_types import (
    NotificationPreferencesInput,
    RegisterPushTokenInput,
    RemovePushTokenInput,
    UpdateProfileInput,
    User,
    row_of,
)
from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved
from write_side.commands import Command
from write_side.errors import InvalidInput, NotFound
from write_side.user_commands import (
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.user_service import (
    find_user,
    register_push_token,
    remove_push_token,
    set_notification_preferences,
    update_my_profile,
)
from write_side.users import User as UserAggregate
from write_side.users import user_id_for

READ_YOUR_WRITES_TIMEOUT = 2.0
FIELD_NAMES = {"phone_e164": "phone"}  # command field -> GraphQL input field
C = TypeVar("C", bound=Command)


@strawberry.type
class UsersQuery:
    @strawberry.field
    async def me(self, info: Info) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        system = info.context.system
        user_id = user_id_for(caller.tenant_id, caller.subject)
        if system.users is not None:
            row = await to_thread.run_sync(system.users.get, caller.tenant_id, user_id)
        else:  # no read model wired: the aggregate answers
            found = await to_thread.run_sync(
                find_user, system.app, caller.tenant_id, caller.subject
            )
            row = None if found is None else row_of(found)
        return User.of(row, caller)


@strawberry.type
class UsersMutation:
    @strawberry.mutation
    async def update_my_profile(self, info: Info, input: UpdateProfileInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        fields: dict[str, Any] = {"expected_version": input.expected_version}
        for name in ("email", "display_name", "phone", "time_zone", "locale"):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                fields["phone_e164" if name == "phone" else name] = value
        command = command_of(UpdateMyProfile, fields)
        return await _run(info, caller, update_my_profile, command)

    @strawberry.mutation
    async def set_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        quiet = input.quiet_hours
        fields = {
            "expected_version": input.expected_version,
            "info": [c.value for c in input.info],
            "warning": [c.value for c in input.warning],
            "critical": [c.value for c in input.critical],
            "quiet_hours": None if quiet is None else vars(quiet),
            "critical_overrides_quiet_hours": input.critical_overrides_quiet_hours,
        }
        command = command_of(SetNotificationPreferences, fields)
        return await _run(info, caller, set_notification_preferences, command)

    @strawberry.mutation
    async def register_push_token(self, info: Info, input: RegisterPushTokenInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        fields = {"token": input.token, "platform": input.platform.value}
        return await _run(info, caller, register_push_token, command_of(RegisterPushToken, fields))

    @strawberry.mutation
    async def remove_push_token(self, info: Info, input: RemovePushTokenInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        command = command_of(RemovePushToken, {"token_id": str(input.token_id), "reason": "user"})
        return await _run(info, caller, _remove_my_push_token, command)


Handler = Callable[[FleetApplication, str, C, EventMetadata], Saved[UserAggregate]]


def _remove_my_push_token(
    app: FleetApplication, subject: str, command: RemovePushToken, meta: EventMetadata
) -> Saved[UserAggregate]:
    if find_user(app, meta.tenant_id, subject) is None:
        raise NotFound(f"push token {command.token_id} not found")
    return remove_push_token(app, user_id_for(meta.tenant_id, subject), command, meta)


async def _run(info: Info, caller: Principal, handle: Handler[C], command: C) -> User:
    """Run the command in a worker thread, wait (bounded) for the read models, answer the user
    as saved."""
    system = info.context.system

    def run() -> User:
        saved = handle(system.app, caller.subject, command, caller.metadata())
        system.wait_for(saved.position, READ_YOUR_WRITES_TIMEOUT)
        return User.of(row_of(saved.aggregate), caller)

    return await to_thread.run_sync(run)


def command_of(command_class: type[C], fields: Mapping[str, object]) -> C:
    """The command, or InvalidInput naming the input field at fault as the client spelled it
    (dotted for nested inputs: `quietHours.start`)."""
    try:
        return command_class.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        path = [FIELD_NAMES.get(p, to_camel(p)) for p in first["loc"] if isinstance(p, str)]
        raise InvalidInput(first["msg"], field=".".join(path) or None) from None
