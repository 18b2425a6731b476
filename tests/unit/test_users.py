"""The User aggregate, its commands' validation and the users use cases (in-memory store)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from eventsourcing.application import AggregateNotFoundError
from pydantic import ValidationError

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication
from write_side.errors import ConcurrencyConflict, InvalidInput, NotFound
from write_side.user_commands import (
    RegisterPushToken,
    RemovePushToken,
    SetNotificationPreferences,
    UpdateMyProfile,
)
from write_side.user_service import UserService, recipient_of
from write_side.users import (
    MAX_PUSH_TOKENS,
    User,
    default_preferences,
    push_token_id,
    user_id_for,
)

META = EventMetadata("acme", "user:alice")


def names(user: User) -> list[str]:
    return [type(e).__qualname__ for e in user.collect_events()]


@pytest.fixture
def app() -> Iterator[FleetApplication]:
    application = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


@pytest.fixture
def users(app: FleetApplication) -> UserService:
    return UserService(app)


# ---------------------------------------------------------------- aggregate


def test_the_id_is_derived_from_tenant_and_subject() -> None:
    user = User.create("acme", "alice")
    assert user.id == user_id_for("acme", "alice")
    assert user.id != user_id_for("other", "alice")
    assert user.id != user_id_for("acme", "bob")
    assert names(user) == ["User.ProfileCreated"]
    assert (user.time_zone, user.locale, user.email) == ("UTC", "en", None)
    assert user.preferences == default_preferences()


def test_profile_update_records_only_changes_and_clears_explicit_nones() -> None:
    user = User.create("acme", "alice")
    user.collect_events()
    assert user.update_profile({"email": "a@x.io", "time_zone": "UTC"}) is True
    (event,) = user.collect_events()
    assert event.email == "a@x.io"  # type: ignore[attr-defined]
    assert event.time_zone is None  # type: ignore[attr-defined]  # unchanged: not recorded
    assert user.update_profile({"email": "a@x.io"}) is False
    assert user.update_profile({"email": None, "display_name": "Alice"}) is True
    (event,) = user.collect_events()
    assert event.cleared == ["email"]  # type: ignore[attr-defined]
    assert (user.email, user.display_name) == (None, "Alice")


def test_time_zone_and_locale_cannot_be_cleared() -> None:
    user = User.create("acme", "alice")
    with pytest.raises(InvalidInput) as info:
        user.update_profile({"time_zone": None})
    assert info.value.field == "time_zone"


def test_preferences_are_replaced_whole_and_only_when_different() -> None:
    user = User.create("acme", "alice")
    user.collect_events()
    assert user.set_preferences(default_preferences()) is False
    new = default_preferences() | {"critical_overrides_quiet_hours": False}
    assert user.set_preferences(new) is True
    assert names(user) == ["User.PreferencesChanged"]
    assert user.preferences["critical_overrides_quiet_hours"] is False


def test_push_tokens_register_idempotently_and_evict_the_oldest() -> None:
    user = User.create("acme", "alice")
    user.collect_events()
    assert user.register_push_token("tok-0", "android") is True
    assert user.register_push_token("tok-0", "android") is False
    assert user.register_push_token("tok-0", "ios") is True  # platform changed
    assert user.push_tokens[push_token_id("tok-0")].platform == "ios"
    for i in range(1, MAX_PUSH_TOKENS):
        user.register_push_token(f"tok-{i}", "web")
    user.collect_events()
    assert len(user.push_tokens) == MAX_PUSH_TOKENS
    assert user.register_push_token("tok-new", "web") is True
    assert names(user) == ["User.PushTokenRemoved", "User.PushTokenRegistered"]
    assert push_token_id("tok-0") not in user.push_tokens
    assert len(user.push_tokens) == MAX_PUSH_TOKENS


def test_removing_an_unknown_token_is_not_found_for_the_user_only() -> None:
    user = User.create("acme", "alice")
    with pytest.raises(NotFound):
        user.remove_push_token("0" * 16, "user")
    assert user.remove_push_token("0" * 16, "unregistered") is False
    user.register_push_token("tok", "android")
    assert user.remove_push_token(push_token_id("tok"), "user") is True
    assert user.push_tokens == {}


def test_push_token_id_is_16_hex_of_sha256() -> None:
    assert push_token_id("abc") == "ba7816bf8f01cfea"


# ---------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone_e164": "0170 1234567"}, "phone_e164"),
        ({"phone_e164": "+0123456789"}, "phone_e164"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "../etc/passwd"}, "time_zone"),
        ({"time_zone": None}, "time_zone"),
        ({"locale": "english please"}, "locale"),
        ({"display_name": ""}, "display_name"),
    ],
)
def test_profile_command_validation(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        UpdateMyProfile.model_validate(fields)
    assert info.value.errors()[0]["loc"][0] == field


def test_profile_command_changes_are_the_fields_sent() -> None:
    command = UpdateMyProfile.model_validate({"email": " a@x.io ", "phone_e164": None})
    assert command.changes() == {"email": "a@x.io", "phone_e164": None}


def test_preferences_command_validation_and_payload() -> None:
    command = SetNotificationPreferences.model_validate(
        {
            "warning": ["email", "email", "push"],
            "critical": ["sms"],
            "quiet_hours": {"start": "22:00", "end": "07:00", "days": [4, 0, 4]},
        }
    )
    assert command.to_payload() == {
        "channels": {"info": [], "warning": ["email", "push"], "critical": ["sms"]},
        "quiet_hours": {"start": "22:00", "end": "07:00", "days": [0, 4]},
        "critical_overrides_quiet_hours": True,
    }
    for bad in (
        {"info": ["fax"]},
        {"quiet_hours": {"start": "24:00", "end": "07:00"}},
        {"quiet_hours": {"start": "07:00", "end": "07:00"}},
        {"quiet_hours": {"start": "22:00", "end": "07:00", "days": [7]}},
        {"quiet_hours": {"start": "22:00", "end": "07:00", "days": []}},
    ):
        with pytest.raises(ValidationError):
            SetNotificationPreferences.model_validate(bad)


def test_push_token_commands_validate() -> None:
    with pytest.raises(ValidationError):
        RegisterPushToken(token="has space", platform="android")
    with pytest.raises(ValidationError):
        RegisterPushToken.model_validate({"token": "t", "platform": "symbian"})
    with pytest.raises(ValidationError):
        RemovePushToken(token_id="XYZ")


# ---------------------------------------------------------------- use cases


def test_first_change_creates_the_user_and_later_ones_load_it(users: UserService) -> None:
    assert users.find("acme", "alice") is None
    saved = users.update_my_profile("alice", UpdateMyProfile(display_name="Alice"), META)
    assert saved.aggregate.version == 2  # ProfileCreated + ProfileUpdated, one save
    saved = users.set_notification_preferences(
        "alice", SetNotificationPreferences(info=["push"], critical=["sms"]), META
    )
    user = users.get("acme", user_id_for("acme", "alice"))
    assert user.version == 3
    assert user.display_name == "Alice"
    assert user.preferences["channels"]["critical"] == ["sms"]


def test_an_empty_profile_update_creates_the_user_once(users: UserService) -> None:
    first = users.update_my_profile("alice", UpdateMyProfile(), META)
    assert first.aggregate.version == 1
    again = users.update_my_profile("alice", UpdateMyProfile(), META)
    assert again.position == 0  # nothing recorded
    assert again.aggregate.version == 1


def test_expected_version_is_checked(users: UserService) -> None:
    with pytest.raises(ConcurrencyConflict):
        users.update_my_profile("alice", UpdateMyProfile(expected_version=1, locale="de"), META)
    users.update_my_profile("alice", UpdateMyProfile(locale="de"), META)
    with pytest.raises(ConcurrencyConflict) as info:
        users.update_my_profile("alice", UpdateMyProfile(expected_version=1, locale="fr"), META)
    assert (info.value.expected, info.value.actual) == (1, 2)
    saved = users.update_my_profile("alice", UpdateMyProfile(expected_version=2, locale="fr"), META)
    assert saved.aggregate.locale == "fr"


def test_a_lost_creation_race_is_retried_on_the_reloaded_user(
    app: FleetApplication, users: UserService
) -> None:
    """Two first requests: the second's creation collides with the first, reloads, succeeds."""
    original = app.repository.get
    calls = {"n": 0}

    def stale_get(aggregate_id: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:  # the first load happens before the other request's save
            users.update_my_profile("alice", UpdateMyProfile(locale="de"), META)
            raise AggregateNotFoundError
        return original(aggregate_id, **kwargs)  # type: ignore[arg-type]

    app.repository.get = stale_get  # type: ignore[method-assign]
    saved = users.update_my_profile("alice", UpdateMyProfile(display_name="Alice"), META)
    app.repository.get = original  # type: ignore[method-assign]
    user = users.get("acme", saved.aggregate.id)
    assert (user.locale, user.display_name, user.version) == ("de", "Alice", 3)


def test_another_tenant_never_sees_the_user(users: UserService) -> None:
    saved = users.update_my_profile("alice", UpdateMyProfile(display_name="A"), META)
    with pytest.raises(NotFound):
        users.get("other", saved.aggregate.id)
    assert users.find("other", "alice") is None  # a different id altogether


def test_push_tokens_register_remove_and_forget_unregistered(users: UserService) -> None:
    users.register_push_token("alice", RegisterPushToken(token="t1", platform="android"), META)
    saved = users.register_push_token("alice", RegisterPushToken(token="t2", platform="ios"), META)
    user_id = saved.aggregate.id
    users.remove_push_token(user_id, RemovePushToken(token_id=push_token_id("t1")), META)
    forgotten = users.forget_unregistered_token("acme", user_id, "t2", causation_id=None)
    assert forgotten.aggregate.push_tokens == {}
    again = users.forget_unregistered_token("acme", user_id, "t2", causation_id=None)
    assert again.position == 0
    with pytest.raises(NotFound):
        users.remove_push_token(user_id, RemovePushToken(token_id=push_token_id("t2")), META)
    with pytest.raises(NotFound):
        users.remove_push_token(uuid4(), RemovePushToken(token_id=push_token_id("t2")), META)


def test_removing_my_push_token_before_my_first_change_is_not_found(users: UserService) -> None:
    remove = RemovePushToken(token_id=push_token_id("t1"))
    with pytest.raises(NotFound):
        users.remove_my_push_token("alice", remove, META)
    assert users.find("acme", "alice") is None  # nothing created
    users.register_push_token("alice", RegisterPushToken(token="t1", platform="web"), META)
    assert users.remove_my_push_token("alice", remove, META).aggregate.push_tokens == {}


def test_recipient_of_a_user(users: UserService) -> None:
    users.update_my_profile(
        "alice",
        UpdateMyProfile(email="a@x.io", phone_e164="+4915112345678", time_zone="Europe/Berlin"),
        META,
    )
    users.set_notification_preferences(
        "alice",
        SetNotificationPreferences.model_validate(
            {"critical": ["sms", "push"], "quiet_hours": {"start": "22:00", "end": "07:00"}}
        ),
        META,
    )
    saved = users.register_push_token("alice", RegisterPushToken(token="t1", platform="web"), META)
    recipient = recipient_of(saved.aggregate)
    assert recipient.email == "a@x.io"
    assert recipient.time_zone == "Europe/Berlin"
    assert recipient.preferences.channels["critical"] == ("sms", "push")
    assert recipient.preferences.quiet_hours is not None
    assert [t.token for t in recipient.push_targets] == ["t1"]
