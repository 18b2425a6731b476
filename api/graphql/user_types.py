"""GraphQL types of the users slice (docs/api.md section 13.5): the caller's `User` with
notification preferences and push tokens, and the inputs of the profile and preferences
mutations that GraphQL takes otherwise than REST (the others are derived from the operation
table, `api.users`, by `api.graphql.fields`), all derived from the one definition of a user as
shown and as taken (`api.user_view`); a user is built from a users read-model row through it."""

from __future__ import annotations

import strawberry

from api.auth import Principal
from api.graphql.derive import derived_input, derived_type, graphql_enum, part_type
from api.user_view import (
    Channel,
    ErasurePublic,
    PreferencesBody,
    PreferencesPublic,
    ProfileBody,
    PushPlatform,
    PushTokenPublic,
    QuietHoursBody,
    QuietHoursPublic,
    Role,
    UserPublic,
)
from read_side.users import UserRow

for _enum in (Role, Channel, PushPlatform):
    graphql_enum(_enum)


# The parts of a user: shown only as their fields.
part_type(QuietHoursPublic, "QuietHours")
part_type(PreferencesPublic, "NotificationPreferences")


@derived_type(PushTokenPublic, name="PushToken")
class PushToken:
    """Every field but `id` comes from `PushTokenPublic`: a string there, the schema's `ID`."""

    view: strawberry.Private[PushTokenPublic]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.view.id)


@derived_type(ErasurePublic, name="PersonalDataErasure")
class PersonalDataErasure:
    """The user whose personal data was erased, and their stream's version."""

    view: strawberry.Private[ErasurePublic]

    @strawberry.field
    def user_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.view.user_id))


@derived_type(UserPublic, name="User")
class User:
    view: strawberry.Private[UserPublic]

    @classmethod
    def of(cls, row: UserRow | None, caller: Principal) -> User:
        """The caller as `row` has them; before their first change, defaults (version 0)."""
        return cls(view=UserPublic.from_row(row, caller))


@derived_input(ProfileBody, name="UpdateProfileInput", unset=True)
class UpdateProfileInput:
    """A field left out keeps its value; `null` clears email, displayName or phone."""

    expected_version: int | None = None  # null and left out alike: no version check


@derived_input(QuietHoursBody, name="QuietHoursInput")
class QuietHoursInput:
    pass


@derived_input(PreferencesBody, name="NotificationPreferencesInput")
class NotificationPreferencesInput:
    # Required here, as the schema always had them; REST defaults them to none.
    info: list[Channel]
    warning: list[Channel]
    critical: list[Channel]
