"""The users projection: folds `User.*` events into one row per user (read model `users`).

`evolve` is pure (no I/O); rows are guarded by the user stream's version, so a replayed event
changes nothing. `UsersProjection.process_batch` folds a batch into the changed rows and hands
them to the view with the checkpoint, committed together. The row, the ports and the adapters
that write and read the table are the package `read_side.users`; this glue stays here because it
reads the `User` event names from the aggregate's module, which `read_side` must not import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope

# The default preferences belong to the domain (a new `User` starts with them and its first
# event does not repeat them); a copy here would drift.
from projections.runner import event_topics
from read_side.notifications import ChangeNotice
from read_side.users import PushTokenRow, UserRow, UsersReader, UsersView
from write_side.event_names import topic_prefix
from write_side.users import (
    USER_PERSONAL_DATA_ERASED,
    USER_PREFERENCES_CHANGED,
    USER_PROFILE_CREATED,
    USER_PROFILE_UPDATED,
    USER_PUSH_TOKEN_REGISTERED,
    USER_PUSH_TOKEN_REMOVED,
    User,
    default_preferences,
)

USER_TOPIC_PREFIX = topic_prefix(User)
PROFILE_FIELDS = ("email", "display_name", "phone_e164", "time_zone", "locale")


def evolve(current: UserRow | None, envelope: EventEnvelope) -> UserRow | None:
    """The row after `envelope`; None when it changes nothing (or was already absorbed)."""
    payload, kind = envelope.payload, envelope.type
    if current is not None and envelope.version <= current.version:
        return None
    common: dict[str, Any] = {"version": envelope.version, "updated_at": envelope.occurred_at}
    if kind == USER_PROFILE_CREATED.type:
        return UserRow(
            tenant_id=str(payload["tenant_id"]),
            user_id=UUID(envelope.stream_id),
            subject=str(payload["subject"]),
            email=payload.get("email"),
            display_name=payload.get("display_name"),
            phone_e164=payload.get("phone_e164"),
            time_zone=str(payload["time_zone"]),
            locale=str(payload["locale"]),
            preferences=default_preferences(),
            push_tokens=(),
            **common,
        )
    if current is None:
        return None  # a user this model never saw created (cannot happen in feed order)
    if kind == USER_PROFILE_UPDATED.type:
        changes: dict[str, Any] = {
            name: payload[name] for name in PROFILE_FIELDS if payload.get(name) is not None
        }
        changes.update(dict.fromkeys(payload.get("cleared") or ()))
        return replace(current, **changes, **common)
    if kind == USER_PREFERENCES_CHANGED.type:
        return replace(current, preferences=dict(payload["preferences"]), **common)
    if kind == USER_PUSH_TOKEN_REGISTERED.type:
        token = PushTokenRow(
            token_id=str(payload["token_id"]),
            platform=str(payload["platform"]),
            token=str(payload["token"] or ""),  # None: erased since (docs/audit.md 19.7)
            registered_at=envelope.occurred_at,
        )
        others = tuple(t for t in current.push_tokens if t.token_id != token.token_id)
        return replace(current, push_tokens=(*others, token), **common)
    if kind == USER_PUSH_TOKEN_REMOVED.type:
        kept = tuple(t for t in current.push_tokens if t.token_id != payload["token_id"])
        return replace(current, push_tokens=kept, **common)
    if kind == USER_PERSONAL_DATA_ERASED.type:
        erased: dict[str, Any] = dict.fromkeys(payload["fields"])
        return replace(current, **erased, push_tokens=(), **common)
    return replace(current, **common)  # an event type added later: keep the guard moving


class UsersProjection:
    name = "users"

    def __init__(self, view: UsersView, reader: UsersReader) -> None:
        self.view = view
        self.topics = tuple(t for t in event_topics(User) if self.handles(t))
        self.reader = reader

    def handles(self, topic: str) -> bool:
        return topic.startswith(USER_TOPIC_PREFIX)

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """Fold the batch into the changed rows and save them with `tracking` (nothing is
        written when nothing changed). No change notices: no subscription serves users."""
        rows: dict[tuple[str, UUID], UserRow | None] = {}
        changed: set[tuple[str, UUID]] = set()
        for envelope in envelopes:
            key = (envelope.tenant_id, UUID(envelope.stream_id))
            if key not in rows:
                rows[key] = self.reader.get(*key)
            new = evolve(rows[key], envelope)
            if new is not None:
                rows[key] = new
                changed.add(key)
        saved = [row for key in changed if (row := rows[key]) is not None]
        if saved:
            self.view.save_many(saved, tracking)
        return []
