"""Personal fields sealed per subject (docs/audit.md 19.7), without I/O: the cipher with keys
in memory, the mapper around it, and the `User`'s erasure."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_store.envelope import EventMetadata, recording_as
from event_store.personal_data import (
    KEY_CACHE_SECONDS,
    MemoryPersonalKeys,
    PersonalDataCipher,
    UnreadableField,
)
from write_side.application import FleetApplication
from write_side.users import (
    PERSONAL_FIELDS,
    USER_PROFILE_CREATED,
    USER_PROFILE_UPDATED,
    User,
)

TOPIC = USER_PROFILE_UPDATED.topic
STREAM = uuid.uuid4()


def sealed_state(cipher: PersonalDataCipher, **values: Any) -> dict[str, Any]:
    state = {"locale": "en", **values}
    cipher.seal(TOPIC, STREAM, 3, state)
    return state


def opened(cipher: PersonalDataCipher, state: dict[str, Any], version: int = 3) -> dict[str, Any]:
    copy = json.loads(json.dumps(state))  # as the store gives it back: decoded JSON
    cipher.open(TOPIC, str(STREAM), version, copy)
    return copy


def test_personal_fields_are_sealed_and_open_again() -> None:
    cipher = PersonalDataCipher(PERSONAL_FIELDS, MemoryPersonalKeys())
    state = sealed_state(cipher, email="ann@example.com", display_name="Ann", phone_e164=None)
    text = json.dumps(state)
    assert "ann@example.com" not in text
    assert "Ann" not in text
    assert state["phone_e164"] is None  # that a field is unset is not personal
    assert state["locale"] == "en"  # not a personal field
    assert opened(cipher, state) == {
        "locale": "en",
        "email": "ann@example.com",
        "display_name": "Ann",
        "phone_e164": None,
    }


def test_topics_without_personal_fields_and_plain_old_values_pass_through() -> None:
    cipher = PersonalDataCipher(PERSONAL_FIELDS, MemoryPersonalKeys())
    state = {"email": "ann@example.com"}
    cipher.seal("write_side.devices:Device.Registered", STREAM, 1, state)
    assert state == {"email": "ann@example.com"}
    legacy = {"email": "old@example.com"}  # recorded before the field was declared personal
    cipher.open(TOPIC, str(STREAM), 1, legacy)
    assert legacy == {"email": "old@example.com"}


def test_destroyed_keys_read_as_none_in_this_process_at_once() -> None:
    cipher = PersonalDataCipher(PERSONAL_FIELDS, MemoryPersonalKeys())
    state = sealed_state(cipher, email="ann@example.com")
    assert opened(cipher, state)["email"] == "ann@example.com"  # (now cached)
    assert cipher.destroy(STREAM) == 1
    assert opened(cipher, state)["email"] is None
    assert cipher.destroy(STREAM) == 0


def test_another_process_forgets_a_destroyed_key_once_its_cache_expires() -> None:
    keys, now = MemoryPersonalKeys(), [0.0]
    writer = PersonalDataCipher(PERSONAL_FIELDS, keys)
    reader = PersonalDataCipher(PERSONAL_FIELDS, keys, clock=lambda: now[0])
    state = sealed_state(writer, email="ann@example.com")
    assert opened(reader, state)["email"] == "ann@example.com"
    writer.destroy(STREAM)
    now[0] = KEY_CACHE_SECONDS - 1
    assert opened(reader, state)["email"] == "ann@example.com"  # the documented window
    now[0] = KEY_CACHE_SECONDS + 1
    assert opened(reader, state)["email"] is None


def test_a_sealed_value_does_not_open_in_another_event_or_field() -> None:
    cipher = PersonalDataCipher(PERSONAL_FIELDS, MemoryPersonalKeys())
    state = sealed_state(cipher, email="ann@example.com", display_name="Ann")
    with pytest.raises(UnreadableField, match=r"email of stream .* version 4"):
        opened(cipher, state, version=4)
    swapped = dict(state, email=state["display_name"])
    with pytest.raises(UnreadableField, match="email"):
        opened(cipher, swapped)
    sealed = bytearray(base64.b64decode(state["email"]["c"]))
    sealed[0] ^= 1  # one bit of the ciphertext
    flipped = dict(state, email=dict(state["email"], c=base64.b64encode(sealed).decode()))
    with pytest.raises(UnreadableField):
        opened(cipher, flipped)


@given(st.text(max_size=300))
def test_any_text_comes_back_as_it_was(value: str) -> None:
    cipher = PersonalDataCipher(PERSONAL_FIELDS, MemoryPersonalKeys())
    assert opened(cipher, sealed_state(cipher, email=value))["email"] == value


def test_a_users_events_are_stored_sealed_and_the_user_reads_none_after_erasure() -> None:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    user = User.create("acme", "sub-1")
    user.update_profile({"email": "ann@example.com", "phone_e164": "+4915112345678"})
    user.register_push_token("push-token-1", "ios")
    app.commit(user, EventMetadata("acme", "user:sub-1"))
    stored = list(app.recorder.select_events(user.id))
    assert [s.topic for s in stored[:2]] == [USER_PROFILE_CREATED.topic, TOPIC]
    assert not any(b"ann@example.com" in s.state or b"push-token-1" in s.state for s in stored)
    loaded = app.repository.get(user.id)
    assert (loaded.email, loaded.phone_e164) == ("ann@example.com", "+4915112345678")
    assert [t.token for t in loaded.push_tokens.values()] == ["push-token-1"]

    destroyed = app.destroy_personal_keys(user.id)
    assert destroyed == 1
    erased = app.repository.get(user.id)
    assert (erased.email, erased.phone_e164) == (None, None)
    assert erased.erase_personal_data(destroyed)
    with recording_as(EventMetadata("acme", "user:admin")):
        app.save(erased)
    again = app.repository.get(user.id)
    assert (again.erased, again.push_tokens) == (True, {})
    assert not again.erase_personal_data(0)  # nothing personal since: nothing recorded
    assert again.update_profile({"locale": "de"})
    assert again.erased
    assert again.update_profile({"email": "new@example.com"})
    assert not again.erased
    assert again.erase_personal_data(0)
