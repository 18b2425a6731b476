"""GraphQL types of the users slice (docs/api.md section 13.5): the caller's `User` with
notification preferences and push tokens, derived from the one definition of a user as shown
(`api.user_view`) and built from a users read-model row through it, and the inputs of the
profile, preferences and push-token mutations."""

from __future__ import annotations

import strawberry

from api.auth import Principal
from api.graphql.derive import derived_type, graphql_enum
from api.user_view import (
    Channel,
    PreferencesPublic,
    PushPlatform,
    PushTokenPublic,
    QuietHoursPublic,
    Role,
    UserPublic,
)
from read_side.users import UserRow

for _enum in (Role, Channel, PushPlatform):
    graphql_enum(_enum)


@derived_type(QuietHoursPublic, name="QuietHours")
class QuietHours:
    view: strawberry.Private[QuietHoursPublic]

    def __init__(self, view: QuietHoursPublic) -> None:  # typed; the dataclass keeps it
        self.view = view


@derived_type(PreferencesPublic, name="NotificationPreferences")
class NotificationPreferences:
    view: strawberry.Private[PreferencesPublic]

    def __init__(self, view: PreferencesPublic) -> None:
        self.view = view


@derived_type(PushTokenPublic, name="PushToken")
class PushToken:
    """Every field but `id` comes from `PushTokenPublic`: a string there, the schema's `ID`."""

    view: strawberry.Private[PushTokenPublic]

    def __init__(self, view: PushTokenPublic) -> None:
        self.view = view

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.view.id)


@derived_type(UserPublic, name="User")
class User:
    view: strawberry.Private[UserPublic]

    def __init__(self, view: UserPublic) -> None:
        self.view = view

    @classmethod
    def of(cls, row: UserRow | None, caller: Principal) -> User:
        """The caller as `row` has them; before their first change, defaults (version 0)."""
        return cls(view=UserPublic.from_row(row, caller))


@strawberry.input
class UpdateProfileInput:
    """Only the fields given change; `null` clears email, displayName or phone."""

    expected_version: int | None = None
    email: str | None = strawberry.UNSET
    display_name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET


@strawberry.input
class QuietHoursInput:
    start: str
    end: str
    days: list[int] | None = None


@strawberry.input
class NotificationPreferencesInput:
    info: list[Channel]
    warning: list[Channel]
    critical: list[Channel]
    expected_version: int | None = None
    quiet_hours: QuietHoursInput | None = None
    critical_overrides_quiet_hours: bool = True


@strawberry.input
class RegisterPushTokenInput:
    token: str
    platform: PushPlatform


@strawberry.input
class RemovePushTokenInput:
    token_id: strawberry.ID
