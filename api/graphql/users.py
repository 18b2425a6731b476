"""GraphQL users slice: `me`, and mutations of the caller's own profile, notification
preferences and push tokens (`profile:self`, every role).

`me` reads the users read model (before the caller's first change: defaults built from the
token, version 0); mutations take the one command path (`api.users.run_user_command`) and
answer with the read model's row, as REST `/users/me*` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import strawberry
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from api.auth import Permission
from api.graphql.context import Info
from api.graphql.user_types import (
    NotificationPreferencesInput,
    RegisterPushTokenInput,
    RemovePushTokenInput,
    UpdateProfileInput,
    User,
)
from api.users import read_me, run_user_command
from write_side.commands import Command
from write_side.errors import InvalidInput
from write_side.user_commands import (
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)

FIELD_NAMES = {"phone_e164": "phone"}  # command field -> GraphQL input field
C = TypeVar("C", bound=Command)


@strawberry.type
class UsersQuery:
    @strawberry.field
    async def me(self, info: Info) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        return User.of(await read_me(info.context.system, caller), caller)


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
        row = await run_user_command(
            info.context.system, caller, info.context.system.user_service.update_my_profile, command
        )
        return User.of(row, caller)

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
        system = info.context.system
        row = await run_user_command(
            system, caller, system.user_service.set_notification_preferences, command
        )
        return User.of(row, caller)

    @strawberry.mutation
    async def register_push_token(self, info: Info, input: RegisterPushTokenInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        fields = {"token": input.token, "platform": input.platform.value}
        command = command_of(RegisterPushToken, fields)
        system = info.context.system
        row = await run_user_command(
            system, caller, system.user_service.register_push_token, command
        )
        return User.of(row, caller)

    @strawberry.mutation
    async def remove_push_token(self, info: Info, input: RemovePushTokenInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        command = command_of(RemovePushToken, {"token_id": str(input.token_id), "reason": "user"})
        system = info.context.system
        row = await run_user_command(
            system, caller, system.user_service.remove_my_push_token, command
        )
        return User.of(row, caller)


def command_of(command_class: type[C], fields: Mapping[str, object]) -> C:
    """The command, or InvalidInput naming the input field at fault as the client spelled it
    (dotted for nested inputs: `quietHours.start`)."""
    try:
        return command_class.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        path = [FIELD_NAMES.get(p, to_camel(p)) for p in first["loc"] if isinstance(p, str)]
        raise InvalidInput(first["msg"], field=".".join(path) or None) from None
