"""The user resource as both API adapters show it: declared once, here (issue 11, item 1).

`UserPublic` (with `PreferencesPublic`, `QuietHoursPublic`, `PushTokenPublic`) is the one list
of the caller's output fields, as `api.device_view` is for devices: the REST response models
(`UserPublic`, `PreferencesPublic` and `PushTokenPublic` keep their OpenAPI component names)
and the GraphQL `User`, `NotificationPreferences`, `QuietHours` and `PushToken` types, derived
from them (`api.graphql.user_types`). The enums are declared here as plain `Enum`s, their
values the strings the REST wire always carried, the GraphQL schema's enums the same classes;
their values are the domain's lists (`api.auth.ROLES`, `write_side.users.Channel` and
`PushPlatform`, tested).

`from_row` is the one place a users read-model row (or the row of a user just saved) becomes
output, for REST and GraphQL alike.

The input shapes (`ProfileBody`, `PreferencesBody` with `QuietHoursBody`, `PushTokenBody`) are
the REST request bodies and the GraphQL inputs' one definition (`api.graphql.user_types`
derives them); both adapters hand the validated shape to `api.users`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated
from uuid import UUID

from pydantic import Field

from api.auth import Principal
from api.device_view import View
from api.inputs import Input
from read_side.users import UserRow
from write_side.user_commands import (
    DisplayName,
    Email,
    Locale,
    PhoneE164,
    PushTokenValue,
    QuietHours,
    TimeZoneName,
)
from write_side.users import DEFAULT_LOCALE, DEFAULT_TIME_ZONE, default_preferences, user_id_for


class Role(Enum):  # the values of `api.auth.ROLES` (tested); the order the schema always had
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Channel(Enum):  # `write_side.users.Channel` (tested)
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class PushPlatform(Enum):  # `write_side.users.PushPlatform` (tested)
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class QuietHoursPublic(View):
    start: str = Field(description="HH:MM, in the user's time zone.")
    end: str
    days: list[int] | None = Field(description="Start days, 0 = Monday; null: all.")


class PreferencesPublic(View):
    info: list[Channel]
    warning: list[Channel]
    critical: list[Channel]
    quiet_hours: QuietHoursPublic | None
    critical_overrides_quiet_hours: bool


class PushTokenPublic(View):
    id: str  # 16 hex digits, never the token itself; GraphQL shows it as an ID
    platform: PushPlatform
    registered_at: datetime


class ErasurePublic(View):
    """The outcome of erasing a user's personal data: the user and their stream's version."""

    user_id: UUID
    version: int


class UserPublic(View):
    id: UUID
    subject: str
    tenant_id: str
    roles: list[Role]
    email: str | None
    display_name: str | None
    phone: str | None
    time_zone: str
    locale: str
    preferences: PreferencesPublic
    push_tokens: list[PushTokenPublic]
    version: int

    @classmethod
    def from_row(cls, row: UserRow | None, caller: Principal) -> UserPublic:
        """The caller as `row` has them; before their first change (no row), defaults from the
        token (version 0). Roles are the caller's known ones, as GraphQL always showed them."""
        known = {role.value for role in Role}
        document = default_preferences() if row is None else row.preferences
        channels, quiet = document["channels"], document.get("quiet_hours")
        quiet_hours = (
            QuietHoursPublic(start=quiet["start"], end=quiet["end"], days=quiet.get("days"))
            if quiet
            else None
        )
        return cls(
            id=user_id_for(caller.tenant_id, caller.subject),
            subject=caller.subject,
            tenant_id=caller.tenant_id,
            roles=[Role(role) for role in sorted(caller.roles) if role in known],
            email=None if row is None else row.email,
            display_name=None if row is None else row.display_name,
            phone=None if row is None else row.phone_e164,
            time_zone=DEFAULT_TIME_ZONE if row is None else row.time_zone,
            locale=DEFAULT_LOCALE if row is None else row.locale,
            preferences=PreferencesPublic(
                info=[Channel(c) for c in channels["info"]],
                warning=[Channel(c) for c in channels["warning"]],
                critical=[Channel(c) for c in channels["critical"]],
                quiet_hours=quiet_hours,
                critical_overrides_quiet_hours=bool(document["critical_overrides_quiet_hours"]),
            ),
            push_tokens=[
                PushTokenPublic(
                    id=t.token_id, platform=PushPlatform(t.platform), registered_at=t.registered_at
                )
                for t in (() if row is None else row.push_tokens)
            ],
            version=0 if row is None else row.version,
        )


class ProfileBody(Input):
    """Only the fields sent change; `null` clears email, displayName or phone."""

    expected_version: int | None = Field(default=None, ge=0)  # 0: before the first change
    email: Email | None = None
    display_name: DisplayName | None = None
    phone_e164: PhoneE164 | None = Field(
        default=None, alias="phone", description="E.164, e.g. +4915112345678."
    )
    time_zone: TimeZoneName | None = Field(default=None, description="IANA, e.g. Europe/Berlin.")
    locale: Locale | None = None


# The command's quiet hours (its fields and checks) taken as an input, so a bad one is named
# where it is (`quietHours.start`).
class QuietHoursBody(Input, QuietHours):
    pass


Channels = Annotated[list[Channel], Field(max_length=3)]


class PreferencesBody(Input):
    info: Channels = Field(default_factory=list)
    warning: Channels = Field(default_factory=list)
    critical: Channels = Field(default_factory=list)
    expected_version: int | None = Field(default=None, ge=0)
    quiet_hours: QuietHoursBody | None = None
    critical_overrides_quiet_hours: bool = True


class PushTokenBody(Input):
    token: PushTokenValue
    platform: PushPlatform
