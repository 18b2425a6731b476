"""The User aggregate: one person of one tenant, known by the subject of their tokens.

Identity comes from the JWT; the stream id is derived from (tenant, subject), so there is one
`User` per subject and the store itself refuses a second one. The stream starts with the
user's first profile, preferences or push-token change (`ProfileCreated` with defaults).
Events carry JSON values only (strings, lists, dicts); state changes only when they apply.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from write_side import severity
from write_side.errors import InvalidInput, NotFound
from write_side.event_names import event_name, name_of
from write_side.uuids import FLEETWATCH_NS

MAX_PUSH_TOKENS = 10  # per user; registering one more evicts the oldest

Channel = Literal["email", "sms", "push"]
Severity = severity.Severity  # declared in write_side/severity.py; kept here for its users
PushPlatform = Literal["android", "ios", "web"]
RemovalReason = Literal["user", "unregistered", "evicted"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
SEVERITIES = severity.SEVERITIES

PROFILE_FIELDS = ("email", "display_name", "phone_e164", "time_zone", "locale")
# Personal data (docs/audit.md 19.7): sealed under the user's data key in the events that carry
# it (`PERSONAL_FIELDS` below), cleared by an erasure. The subject id is an opaque token subject.
PERSONAL_PROFILE_FIELDS = ("email", "display_name", "phone_e164")
CLEARABLE_FIELDS = frozenset({"email", "display_name", "phone_e164"})
DEFAULT_TIME_ZONE = "UTC"
DEFAULT_LOCALE = "en"


def user_id_for(tenant_id: str, subject: str) -> UUID:
    return uuid5(FLEETWATCH_NS, f"{tenant_id}/user/{subject}")


def push_token_id(token: str) -> str:
    """The public id of a push token: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def default_preferences() -> dict[str, Any]:
    """Info: nothing; warning: email; critical: email and push; no quiet hours."""
    return {
        "channels": {"info": [], "warning": ["email"], "critical": ["email", "push"]},
        "quiet_hours": None,
        "critical_overrides_quiet_hours": True,
    }


@dataclass(frozen=True)
class PushToken:
    token_id: str
    platform: str
    token: str
    registered_at: datetime


class User(Aggregate):
    """Create with `User.create(tenant_id, subject)`; the methods record only real changes."""

    @staticmethod
    def create_id(tenant_id: str, subject: str) -> UUID:
        return user_id_for(tenant_id, subject)

    @classmethod
    def create(cls, tenant_id: str, subject: str) -> User:
        """A new user with default profile values (changed by later events of the same save)."""
        return cls(
            tenant_id=tenant_id,
            subject=subject,
            email=None,
            display_name=None,
            phone_e164=None,
            time_zone=DEFAULT_TIME_ZONE,
            locale=DEFAULT_LOCALE,
        )

    @event("ProfileCreated")
    def __init__(
        self,
        *,
        tenant_id: str,
        subject: str,
        email: str | None,
        display_name: str | None,
        phone_e164: str | None,
        time_zone: str,
        locale: str,
    ) -> None:
        self.tenant_id, self.subject = tenant_id, subject
        self.email, self.display_name, self.phone_e164 = email, display_name, phone_e164
        self.time_zone, self.locale = time_zone, locale
        self.preferences: dict[str, Any] = default_preferences()
        self.push_tokens: dict[str, PushToken] = {}  # in registration order
        self.erased = False  # personal data erased, nothing personal recorded since

    def update_profile(self, changes: Mapping[str, str | None]) -> bool:
        """Apply `changes` (field -> value; None clears an optional field). False when nothing
        changes (then nothing is recorded)."""
        for name, value in changes.items():
            if name not in PROFILE_FIELDS:
                raise InvalidInput(f"unknown profile field {name!r}", field=name)
            if value is None and name not in CLEARABLE_FIELDS:
                raise InvalidInput(f"{name} cannot be cleared", field=name)
        diff = {name: value for name, value in changes.items() if getattr(self, name) != value}
        if not diff:
            return False
        set_values = {name: diff.get(name) for name in PROFILE_FIELDS}
        cleared = sorted(name for name, value in diff.items() if value is None)
        self._profile_updated(**set_values, cleared=cleared)
        return True

    def set_preferences(self, preferences: Mapping[str, Any]) -> bool:
        """Replace the notification preferences (the full document, validated by the command)."""
        if dict(preferences) == self.preferences:
            return False
        self._preferences_changed(preferences=copy.deepcopy(dict(preferences)))
        return True

    def register_push_token(self, token: str, platform: str) -> bool:
        """Remember a device's push token; at `MAX_PUSH_TOKENS` the oldest one is evicted.
        Registering a known token again on the same platform records nothing."""
        token_id = push_token_id(token)
        known = self.push_tokens.get(token_id)
        if known is not None and known.platform == platform:
            return False
        if known is None and len(self.push_tokens) >= MAX_PUSH_TOKENS:
            oldest = next(iter(self.push_tokens))
            self.trigger_event(self.PushTokenRemoved, token_id=oldest, reason="evicted")
        self.trigger_event(
            self.PushTokenRegistered, token_id=token_id, platform=platform, token=token
        )
        return True

    def erase_personal_data(self, keys_destroyed: int) -> bool:
        """Record the erasure of the user's personal data (their data keys were destroyed:
        `keys_destroyed`); the profile's personal fields and the push tokens are cleared. False
        when nothing personal was recorded since the last erasure (nothing is recorded)."""
        if self.erased and not keys_destroyed:
            return False
        self._personal_data_erased(fields=sorted(PERSONAL_PROFILE_FIELDS), keys=keys_destroyed)
        return True

    def remove_push_token(self, token_id: str, reason: RemovalReason) -> bool:
        """Forget a token. An unknown id is NotFound when the user asks, a no-op otherwise
        (the push provider may report a token that is already gone)."""
        if token_id not in self.push_tokens:
            if reason == "user":
                raise NotFound(f"push token {token_id} not found")
            return False
        self.trigger_event(self.PushTokenRemoved, token_id=token_id, reason=reason)
        return True

    @event("ProfileUpdated")
    def _profile_updated(
        self,
        *,
        email: str | None,
        display_name: str | None,
        phone_e164: str | None,
        time_zone: str | None,
        locale: str | None,
        cleared: list[str],
    ) -> None:
        values = (email, display_name, phone_e164, time_zone, locale)
        for name, value in zip(PROFILE_FIELDS, values, strict=True):
            if value is not None:
                setattr(self, name, value)
                self.erased &= name not in PERSONAL_PROFILE_FIELDS
        for name in cleared:
            setattr(self, name, None)

    @event("PersonalDataErased")
    def _personal_data_erased(self, fields: list[str], keys: int) -> None:
        for name in fields:
            setattr(self, name, None)
        self.push_tokens = {}
        self.erased = True

    @event("PreferencesChanged")
    def _preferences_changed(self, preferences: dict[str, Any]) -> None:
        self.preferences = copy.deepcopy(preferences)

    class PushTokenRegistered(Aggregate.Event):
        token_id: str
        platform: str
        token: str

        def apply(self, aggregate: Aggregate) -> None:
            user = cast(User, aggregate)
            user.erased = False
            user.push_tokens.pop(self.token_id, None)  # re-registration moves it to the end
            user.push_tokens[self.token_id] = PushToken(
                self.token_id, self.platform, self.token, self.timestamp
            )

    class PushTokenRemoved(Aggregate.Event):
        token_id: str
        reason: str

        def apply(self, aggregate: Aggregate) -> None:
            cast(User, aggregate).push_tokens.pop(self.token_id, None)


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
USER_PROFILE_CREATED = event_name(User, "ProfileCreated")
USER_PROFILE_UPDATED = event_name(User, "ProfileUpdated")
USER_PREFERENCES_CHANGED = event_name(User, "PreferencesChanged")
USER_PUSH_TOKEN_REGISTERED = name_of(User.PushTokenRegistered)
USER_PUSH_TOKEN_REMOVED = name_of(User.PushTokenRemoved)
USER_PERSONAL_DATA_ERASED = event_name(User, "PersonalDataErased")
USER_EVENTS = (
    USER_PROFILE_CREATED,
    USER_PROFILE_UPDATED,
    USER_PREFERENCES_CHANGED,
    USER_PUSH_TOKEN_REGISTERED,
    USER_PUSH_TOKEN_REMOVED,
    USER_PERSONAL_DATA_ERASED,
)
# The personal fields of each event (by topic), sealed with the user's (the stream's) data key.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    USER_PROFILE_CREATED.topic: PERSONAL_PROFILE_FIELDS,
    USER_PROFILE_UPDATED.topic: PERSONAL_PROFILE_FIELDS,
    USER_PUSH_TOKEN_REGISTERED.topic: ("token",),
}
