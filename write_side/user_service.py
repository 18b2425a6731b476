"""The users slice's command handlers: load (or create on first use), decide, commit.

A user is addressed by the caller's subject (the tenant comes from the metadata), so the
handlers of the caller's own user take `subject` before the command; the API binds it. The
stream is created by the first change. Commands without an expected version are safe to
re-decide, so a lost race (e.g. two first requests creating the same user) is retried on the
reloaded user (`application.retried`).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved, check_version, retried
from write_side.errors import InvalidInput, NotFound
from write_side.notifications import PushTarget, Recipient, parse_preferences
from write_side.user_commands import (
    ErasePersonalData,
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.users import User, push_token_id, user_id_for

NOTIFIER_ACTOR = "system:notifier"


class UserService:
    def __init__(self, app: FleetApplication) -> None:
        self.app = app

    def update_my_profile(
        self, subject: str, command: UpdateMyProfile, meta: EventMetadata
    ) -> Saved[User]:
        changes = command.changes()
        return self._change(
            subject, command.expected_version, meta, lambda u: u.update_profile(changes)
        )

    def set_notification_preferences(
        self, subject: str, command: SetNotificationPreferences, meta: EventMetadata
    ) -> Saved[User]:
        preferences = command.to_payload()
        return self._change(
            subject, command.expected_version, meta, lambda u: u.set_preferences(preferences)
        )

    def register_push_token(
        self, subject: str, command: RegisterPushToken, meta: EventMetadata
    ) -> Saved[User]:
        return self._change(
            subject, None, meta, lambda u: u.register_push_token(command.token, command.platform)
        )

    def remove_my_push_token(
        self, subject: str, command: RemovePushToken, meta: EventMetadata
    ) -> Saved[User]:
        """Remove one of the caller's push tokens; NotFound before the caller's first change,
        as for a token they do not have."""
        if self.find(meta.tenant_id, subject) is None:
            raise NotFound(f"push token {command.token_id} not found")
        return self.remove_push_token(user_id_for(meta.tenant_id, subject), command, meta)

    def remove_push_token(
        self, user_id: UUID, command: RemovePushToken, meta: EventMetadata
    ) -> Saved[User]:
        """Remove a token of an existing user (the user's request, or the push provider's
        report)."""

        def attempt() -> Saved[User]:
            user = self.get(meta.tenant_id, user_id)
            user.remove_push_token(command.token_id, command.reason)
            return self.app.commit(user, meta)

        return retried(attempt, retry=True)

    def forget_unregistered_token(
        self, tenant_id: str, user_id: UUID, token: str, causation_id: str | None
    ) -> Saved[User]:
        """The push provider said `token` is dead: remove it (a no-op when already gone)."""
        meta = EventMetadata(tenant_id, NOTIFIER_ACTOR, causation_id=causation_id)
        command = RemovePushToken(token_id=push_token_id(token), reason="unregistered")
        return self.remove_push_token(user_id, command, meta)

    def erase_personal_data(self, command: ErasePersonalData, meta: EventMetadata) -> Saved[User]:
        """Erase the personal data of the user `command` names (docs/audit.md 19.7): destroy
        the user's data keys, so every personal field ever recorded reads as None, then record
        `PersonalDataErased` (the read models clear their copies), then destroy again the keys
        a write racing this one may have made. NotFound for a user without a stream (or
        another tenant's). Safe to repeat: a repeat after a failure finishes the erasure; one
        after a success records nothing."""
        if command.user_id is None:
            raise InvalidInput("name the user whose personal data to erase", field="user_id")
        user_id = command.user_id
        self.get(meta.tenant_id, user_id)  # before any key is destroyed

        def attempt() -> Saved[User]:
            destroyed = self.app.destroy_personal_keys(user_id)
            user = self.get(meta.tenant_id, user_id)
            user.erase_personal_data(destroyed)
            return self.app.commit(user, meta)

        saved = retried(attempt, retry=True)
        self.app.destroy_personal_keys(user_id)
        return saved

    def erase_my_personal_data(
        self, subject: str, command: ErasePersonalData, meta: EventMetadata
    ) -> Saved[User]:
        """The caller erases their own personal data; NotFound before their first change."""
        if self.find(meta.tenant_id, subject) is None:
            raise NotFound("no personal data is recorded for you")
        mine = command.model_copy(update={"user_id": user_id_for(meta.tenant_id, subject)})
        return self.erase_personal_data(mine, meta)

    def get(self, tenant_id: str, user_id: UUID) -> User:
        """The user, or NotFound (also for another tenant's user)."""
        return self.app.load(User, tenant_id, user_id)

    def find(self, tenant_id: str, subject: str) -> User | None:
        """The caller's user, or None before their first change."""
        return self.app.find(User, tenant_id, user_id_for(tenant_id, subject))

    def _change(
        self,
        subject: str,
        expected_version: int | None,
        meta: EventMetadata,
        decide: Callable[[User], object],
    ) -> Saved[User]:
        def attempt() -> Saved[User]:
            user = self.find(meta.tenant_id, subject)
            check_version(user, expected_version)
            user = user or User.create(meta.tenant_id, subject)
            decide(user)
            return self.app.commit(user, meta)

        return retried(attempt, retry=expected_version is None)


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
