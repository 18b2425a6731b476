"""The users model's row: per tenant, each user's profile, notification preferences and push
tokens.

`UserRow.preferences` is the `Preferences` document exactly as `User.PreferencesChanged`
records it (`channels` per severity, `quiet_hours`, `critical_overrides_quiet_hours`).
`to_record` / `from_record` give the row as flat text and numbers, which both stores keep.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


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


RECORD_FIELDS = (
    *("tenant_id", "user_id", "subject", "email", "display_name", "phone_e164", "time_zone"),
    *("locale", "preferences", "push_tokens", "version", "updated_at"),
)


def to_record(row: UserRow) -> dict[str, Any]:
    """The row as text and integers (JSON documents for preferences and tokens)."""
    tokens = [
        {
            "token_id": t.token_id,
            "platform": t.platform,
            "token": t.token,
            "registered_at": t.registered_at.isoformat(),
        }
        for t in row.push_tokens
    ]
    return {
        "tenant_id": row.tenant_id,
        "user_id": row.user_id.hex,
        "subject": row.subject,
        "email": row.email,
        "display_name": row.display_name,
        "phone_e164": row.phone_e164,
        "time_zone": row.time_zone,
        "locale": row.locale,
        "preferences": json.dumps(row.preferences, separators=(",", ":"), sort_keys=True),
        "push_tokens": json.dumps(tokens, separators=(",", ":")),
        "version": row.version,
        "updated_at": row.updated_at.isoformat(),
    }


def from_record(record: Mapping[str, Any]) -> UserRow:
    return UserRow(
        tenant_id=str(record["tenant_id"]),
        user_id=UUID(str(record["user_id"])),
        subject=str(record["subject"]),
        email=record.get("email"),
        display_name=record.get("display_name"),
        phone_e164=record.get("phone_e164"),
        time_zone=str(record["time_zone"]),
        locale=str(record["locale"]),
        preferences=json.loads(record["preferences"]),
        push_tokens=tuple(
            PushTokenRow(
                token_id=t["token_id"],
                platform=t["platform"],
                token=t["token"],
                registered_at=datetime.fromisoformat(t["registered_at"]),
            )
            for t in json.loads(record["push_tokens"])
        ),
        version=int(record["version"]),
        updated_at=datetime.fromisoformat(str(record["updated_at"])),
    )
