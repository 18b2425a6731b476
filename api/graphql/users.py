"""GraphQL users slice: `me`, and mutations of the caller's own profile, notification
preferences and push tokens (`profile:self`, every role).

`me` reads the users read model (before the caller's first change: defaults built from the
token, version 0); mutations take the input as its shape (`model_of`) to the use cases REST
shares (`api.users`, the one command path) and answer with the read model's row."""

from __future__ import annotations

import strawberry

from api import users
from api.auth import Permission
from api.graphql.context import Info
from api.graphql.derive import model_of
from api.graphql.user_types import (
    NotificationPreferencesInput,
    RegisterPushTokenInput,
    RemovePushTokenInput,
    UpdateProfileInput,
    User,
)
from api.user_view import PreferencesBody, ProfileBody, PushTokenBody


@strawberry.type
class UsersQuery:
    @strawberry.field
    async def me(self, info: Info) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        return User.of(await users.read_me(info.context.system, caller), caller)


@strawberry.type
class UsersMutation:
    @strawberry.mutation
    async def update_my_profile(self, info: Info, input: UpdateProfileInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        shape = model_of(input, ProfileBody)
        return User.of(await users.update_profile(info.context.system, caller, shape), caller)

    @strawberry.mutation
    async def set_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        shape = model_of(input, PreferencesBody)
        return User.of(await users.set_preferences(info.context.system, caller, shape), caller)

    @strawberry.mutation
    async def register_push_token(self, info: Info, input: RegisterPushTokenInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        shape = model_of(input, PushTokenBody)
        row = await users.register_push_token(info.context.system, caller, shape)
        return User.of(row, caller)

    @strawberry.mutation
    async def remove_push_token(self, info: Info, input: RemovePushTokenInput) -> User:
        caller = info.context.authorize(Permission.PROFILE_SELF)
        row = await users.remove_push_token(info.context.system, caller, str(input.token_id))
        return User.of(row, caller)
