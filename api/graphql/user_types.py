"""GraphQL types of the users slice (docs/api.md section 13.5): the caller's `User` with
notification preferences and push tokens, built from a users read-model row, and the inputs of
the profile, preferences and push-token mutations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from api.auth import Principal
from read_side.users import UserRow
from write_side.users import DEFAULT_LOCALE, DEFAULT_TIME_ZONE, default_preferences, user_id_for


@strawberry.enum
class Role(Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


@strawberry.enum
class Channel(Enum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


@strawberry.enum
class PushPlatform(Enum):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


@strawberry.type
class QuietHours:
    start: str = strawberry.field(description="HH:MM, in the user's time zone.")
    end: str
    days: list[int] | None = strawberry.field(description="Start days, 0 = Monday; null: all.")


@strawberry.type
class NotificationPreferences:
    info: list[Channel]
    warning: list[Channel]
    critical: list[Channel]
    quiet_hours: QuietHours | None
    critical_overrides_quiet_hours: bool

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> NotificationPreferences:
        channels, quiet = document["channels"], document.get("quiet_hours")
        return cls(
            info=[Channel(c) for c in channels["info"]],
            warning=[Channel(c) for c in channels["warning"]],
            critical=[Channel(c) for c in channels["critical"]],
            quiet_hours=None if not quiet else QuietHours(**quiet),
            critical_overrides_quiet_hours=bool(document["critical_overrides_quiet_hours"]),
        )


@strawberry.type
class PushToken:
    id: strawberry.ID
    platform: PushPlatform
    registered_at: datetime


@strawberry.type
class User:
    id: strawberry.ID
    subject: str
    tenant_id: str
    roles: list[Role]
    email: str | None
    display_name: str | None
    phone: str | None
    time_zone: str
    locale: str
    preferences: NotificationPreferences
    push_tokens: list[PushToken]
    version: int

    @classmethod
    def of(cls, row: UserRow | None, caller: Principal) -> User:
        """The caller as `row` has them; before their first change, defaults (version 0)."""
        known = {role.value for role in Role}
        return cls(
            id=strawberry.ID(str(user_id_for(caller.tenant_id, caller.subject))),
            subject=caller.subject,
            tenant_id=caller.tenant_id,
            roles=[Role(role) for role in sorted(caller.roles) if role in known],
            email=None if row is None else row.email,
            display_name=None if row is None else row.display_name,
            phone=None if row is None else row.phone_e164,
            time_zone=DEFAULT_TIME_ZONE if row is None else row.time_zone,
            locale=DEFAULT_LOCALE if row is None else row.locale,
            preferences=NotificationPreferences.of(
                default_preferences() if row is None else row.preferences
            ),
            push_tokens=[
                PushToken(
                    id=strawberry.ID(t.token_id),
                    platform=PushPlatform(t.platform),
                    registered_at=t.registered_at,
                )
                for t in (() if row is None else row.push_tokens)
            ],
            version=0 if row is None else row.version,
        )


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
