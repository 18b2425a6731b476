"""Use cases of the users slice: load (or create on first use), decide, save.

Functions taking the `FleetApplication`, so the application class stays small. A user is
addressed by the caller's subject (the tenant comes from the metadata); the stream is created
by the first change. Commands without an expected version are safe to re-decide, so a lost race
(e.g. two first requests creating the same user) is retried on the reloaded user.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved
from write_side.errors import ConcurrencyConflict, NotFound
from write_side.notifications import PushTarget, Recipient, parse_preferences
from write_side.user_commands import (
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.users import User, push_token_id, user_id_for

MAX_ATTEMPTS = 3
NOTIFIER_ACTOR = "system:notifier"


def get_user(app: FleetApplication, tenant_id: str, user_id: UUID) -> User:
    """The user, or NotFound (also for another tenant's user)."""
    try:
        user: User = app.repository.get(user_id)
    except AggregateNotFoundError:
        raise NotFound(f"user {user_id} not found") from None
    if not isinstance(user, User) or user.tenant_id != tenant_id:
        raise NotFound(f"user {user_id} not found")
    return user


def find_user(app: FleetApplication, tenant_id: str, subject: str) -> User | None:
    """The caller's user, or None before their first change."""
    try:
        return get_user(app, tenant_id, user_id_for(tenant_id, subject))
    except NotFound:
        return None


def update_my_profile(
    app: FleetApplication, subject: str, command: UpdateMyProfile, meta: EventMetadata
) -> Saved[User]:
    changes = command.changes()
    return _change(
        app, subject, command.expected_version, meta, lambda u: u.update_profile(changes)
    )


def set_notification_preferences(
    app: FleetApplication, subject: str, command: SetNotificationPreferences, meta: EventMetadata
) -> Saved[User]:
    preferences = command.to_payload()
    return _change(
        app, subject, command.expected_version, meta, lambda u: u.set_preferences(preferences)
    )


def register_push_token(
    app: FleetApplication, subject: str, command: RegisterPushToken, meta: EventMetadata
) -> Saved[User]:
    return _change(
        app, subject, None, meta, lambda u: u.register_push_token(command.token, command.platform)
    )


def remove_push_token(
    app: FleetApplication, user_id: UUID, command: RemovePushToken, meta: EventMetadata
) -> Saved[User]:
    """Remove a token of an existing user (the user's request, or the push provider's report)."""

    def attempt() -> Saved[User]:
        user = get_user(app, meta.tenant_id, user_id)
        if not user.remove_push_token(command.token_id, command.reason):
            return Saved(user, 0)
        return app._save(user, meta)  # the application's shared save helper

    return _with_retries(attempt, retry=True)


def forget_unregistered_token(
    app: FleetApplication, tenant_id: str, user_id: UUID, token: str, causation_id: str | None
) -> Saved[User]:
    """The push provider said `token` is dead: remove it (a no-op when already gone)."""
    meta = EventMetadata(tenant_id, NOTIFIER_ACTOR, causation_id=causation_id)
    command = RemovePushToken(token_id=push_token_id(token), reason="unregistered")
    return remove_push_token(app, user_id, command, meta)


def recipient_of(user: User) -> Recipient:
    """What notification planning needs to know about a user."""
    return Recipient(
        tenant_id=user.tenant_id,
        user_id=user.id,
        time_zone=user.time_zone,
        preferences=parse_preferences(user.preferences),
        email=user.email,
        phone_e164=user.phone_e164,
        push_targets=tuple(
            PushTarget(token.token, token.platform) for token in user.push_tokens.values()
        ),
    )


def _change(
    app: FleetApplication,
    subject: str,
    expected_version: int | None,
    meta: EventMetadata,
    decide: Callable[[User], bool],
) -> Saved[User]:
    def attempt() -> Saved[User]:
        user = find_user(app, meta.tenant_id, subject)
        _check_expected_version(user, expected_version)
        created = user is None
        user = user or User.create(meta.tenant_id, subject)
        if not decide(user) and not created:
            return Saved(user, 0)
        return app._save(user, meta)  # the application's shared save helper

    return _with_retries(attempt, retry=expected_version is None)


def _with_retries(attempt: Callable[[], Saved[User]], *, retry: bool) -> Saved[User]:
    """Run `attempt`; on a lost race re-run it (reloading) up to MAX_ATTEMPTS times in all."""
    for _ in range(MAX_ATTEMPTS - 1):
        try:
            return attempt()
        except ConcurrencyConflict:
            if not retry:
                raise
    return attempt()


def _check_expected_version(user: User | None, expected: int | None) -> None:
    actual = 0 if user is None else user.version
    if expected is not None and expected != actual:
        raise ConcurrencyConflict(
            f"user is at version {actual}, not {expected}", expected=expected, actual=actual
        )
