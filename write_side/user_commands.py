"""Commands of the users slice: a caller's own profile, notification preferences and push
tokens. The subject and tenant come from the caller's token, never from the command."""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from write_side.commands import Command
from write_side.users import PROFILE_FIELDS, Channel, PushPlatform

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
    ),
]
PhoneE164 = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$")
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
TimeZoneName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}$")
]
Locale = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$"),
]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Channels = Annotated[list[Channel], Field(max_length=3)]
PushTokenValue = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^\S+$")]
TokenId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]


def check_time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


class UpdateMyProfile(Command):
    """Change the fields that are set; an optional field set to None is cleared."""

    expected_version: int | None = Field(default=None, ge=0)  # 0: no user yet
    email: Email | None = None
    display_name: DisplayName | None = None
    phone_e164: PhoneE164 | None = None
    time_zone: TimeZoneName | None = None
    locale: Locale | None = None

    @field_validator("time_zone", "locale")
    @classmethod
    def _not_cleared(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("cannot be cleared (omit it to keep the current value)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    def changes(self) -> dict[str, str | None]:
        """The fields the caller sent, by aggregate field name."""
        return {
            name: getattr(self, name) for name in PROFILE_FIELDS if name in self.model_fields_set
        }


class QuietHours(BaseModel):
    """A daily quiet period in the user's time zone; `end <= start` means it ends the next day.
    `days` (0 = Monday) are the days on which the period starts; None means every day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: ClockTime = Field(examples=["22:00"])
    end: ClockTime = Field(examples=["07:00"])
    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1)] | None = Field(
        default=None, description="Start days, 0 = Monday; null: all."
    )

    @field_validator("days")
    @classmethod
    def _sorted_unique(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else sorted(set(value))

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


def _unique(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


class SetNotificationPreferences(Command):
    """The full preferences: channels per severity, quiet hours, and whether critical alerts
    break through quiet hours."""

    expected_version: int | None = Field(default=None, ge=0)  # 0: no user yet
    info: Channels = Field(default_factory=list)
    warning: Channels = Field(default_factory=list)
    critical: Channels = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    critical_overrides_quiet_hours: bool = True

    _channels = field_validator("info", "warning", "critical")(_unique)

    def to_payload(self) -> dict[str, Any]:
        """The `Preferences` document recorded in `User.PreferencesChanged`."""
        return {
            "channels": {"info": self.info, "warning": self.warning, "critical": self.critical},
            "quiet_hours": None if self.quiet_hours is None else self.quiet_hours.model_dump(),
            "critical_overrides_quiet_hours": self.critical_overrides_quiet_hours,
        }


class RegisterPushToken(Command):
    token: PushTokenValue
    platform: PushPlatform


class RemovePushToken(Command):
    token_id: TokenId
    reason: Literal["user", "unregistered"] = "user"


class ErasePersonalData(Command):
    """Erase a user's personal data (docs/audit.md 19.7): an administrator names the user;
    a caller erasing their own names nobody (`user_id` None, the handler binds the caller)."""

    user_id: UUID | None = None
