"""The users model's row: per tenant, each user's profile, notification preferences and push
tokens.

`UserRow.preferences` is the `Preferences` document exactly as `User.PreferencesChanged`
records it (`channels` per severity, `quiet_hours`, `critical_overrides_quiet_hours`).
Both stores keep its fields as columns (attributes), derived from the dataclass
(`read_side.columns`): the preferences and the push tokens as JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

__all__ = ["PushTokenRow", "UserRow"]


@dataclass(frozen=True)
class PushTokenRow:
    token_id: str  # first 16 hex digits of the token's SHA-256
    platform: str  # android | ios | web
    token: str
    registered_at: datetime


@dataclass(frozen=True)
class UserRow:
    tenant_id: str
    user_id: UUID
    subject: str
    email: str | None
    display_name: str | None
    phone_e164: str | None
    time_zone: str
    locale: str
    preferences: Mapping[str, Any]
    push_tokens: tuple[PushTokenRow, ...]  # in registration order
    version: int  # the user stream's version absorbed (the row's guard)
    updated_at: datetime
