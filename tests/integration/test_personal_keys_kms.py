"""The users' data keys wrapped by AWS KMS (`event_store.kms_keys`, docs/audit.md 19.7), against
moto's server mode for KMS (real boto3 calls over HTTP) and each store for the keys: only the
wrapped keys are stored, the personal fields open and are erased as before, a wrapped key
copied to another subject does not unwrap, keys stored before KMS was turned on still open,
KMS out of reach fails the read (never reads as erased), and a key is unwrapped once per
process and half-minute, not per event.

moto's gaps, so not tested here: it decrypts under a disabled key and under one pending
deletion, and never deletes a key (the `NotFoundException` read as destroyed)."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from eventsourcing.sqlite import SQLiteDatastore

from event_store.envelope import EventMetadata
from event_store.kms_keys import KmsWrappedKeys
from event_store.personal_data import KEY_BYTES, MemoryPersonalKeys, UnreadableField
from event_store.sqlite_personal_keys import SQLitePersonalKeys
from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings
from tests.integration.test_personal_data_erasure import caught_up, key_count
from write_side.user_commands import ErasePersonalData, UpdateMyProfile
from write_side.users import User, user_id_for

ALICE = EventMetadata("acme", "user:alice")
ADMIN = EventMetadata("acme", "user:root")


@pytest.fixture
def kms(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A KMS client of moto's server, also the environment's (`AWS_ENDPOINT_URL_KMS`)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", moto_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.client("kms", region_name="us-east-1", endpoint_url=moto_url)


@pytest.fixture
def kms_key(kms: Any) -> str:
    key = kms.create_key(Description="fleetwatch personal data")["KeyMetadata"]["KeyId"]
    alias = f"alias/fleetwatch-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    return alias


def stored_keys(settings: Settings) -> list[bytes]:
    """The bytes of every data key as the store keeps them."""
    if settings.store == "sqlite":
        keys_file = settings.sqlite_path.with_name(f"{settings.sqlite_path.stem}-keys.sqlite3")
        with sqlite3.connect(keys_file) as db:
            return [bytes(row[0]) for row in db.execute("SELECT key FROM personal_keys")]
    client = boto3.client(
        "dynamodb", endpoint_url=settings.dynamodb_endpoint_url, region_name="us-east-1"
    )
    table = f"{settings.dynamodb_table_prefix}personal_keys"
    return [bytes(item["key"]["B"]) for item in client.scan(TableName=table)["Items"]]


def test_only_wrapped_keys_are_stored_and_erasure_still_shreds(
    store_settings: Settings, kms: Any, kms_key: str
) -> None:
    settings = store_settings.model_copy(update={"personal_keys_kms_key": kms_key})
    system = build_system(settings)
    system.start()
    try:
        profile = UpdateMyProfile(email="alice@example.com", display_name="Alice Liddell")
        system.user_service.update_my_profile("alice", profile, ALICE)
        alice = user_id_for("acme", "alice")
        caught_up(system)
        user: object = system.app.repository.get(alice)
        assert isinstance(user, User)
        assert (user.email, user.display_name) == ("alice@example.com", "Alice Liddell")
        [stored] = stored_keys(settings)
        assert len(stored) > KEY_BYTES  # a wrapped key, not the key
        context = {"fleetwatch:subject": alice.hex}
        unwrapped = kms.decrypt(CiphertextBlob=stored, EncryptionContext=context)["Plaintext"]
        assert len(unwrapped) == KEY_BYTES
        # A second process (the same store and KMS key) opens the fields through KMS.
        other = build_system(settings.model_copy(update={"run_projections": False}))
        try:
            again: object = other.app.repository.get(alice)
            assert isinstance(again, User)
            assert again.email == "alice@example.com"
        finally:
            other.close()
        system.user_service.erase_personal_data(ErasePersonalData(user_id=alice), ADMIN)
        caught_up(system)
        erased: object = system.app.repository.get(alice)
        assert isinstance(erased, User)
        assert (erased.email, erased.display_name) == (None, None)
        assert key_count(settings) == 0
    finally:
        system.close()


def test_a_wrapped_key_is_bound_to_its_subject(tmp_path: Path, kms: Any, kms_key: str) -> None:
    stored = SQLitePersonalKeys(SQLiteDatastore(str(tmp_path / "keys.sqlite3")))
    keys = KmsWrappedKeys(stored, kms, kms_key)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alice_id, alice_key = keys.writing_key(alice)
    bob_id, bob_key = keys.writing_key(bob)
    assert keys.key(alice_id) == alice_key != bob_key
    with sqlite3.connect(tmp_path / "keys.sqlite3") as db:  # Alice's wrapped key in Bob's row
        db.execute(
            "UPDATE personal_keys SET key = (SELECT key FROM personal_keys WHERE subject = ?) "
            "WHERE subject = ?",
            (alice.hex, bob.hex),
        )
    with pytest.raises(UnreadableField):
        KmsWrappedKeys(stored, kms, kms_key).key(bob_id)


def test_keys_stored_before_kms_still_open(kms: Any, kms_key: str) -> None:
    stored = MemoryPersonalKeys()
    subject = uuid.uuid4()
    key_id, key = stored.writing_key(subject)  # a plain key, as before KMS was turned on
    keys = KmsWrappedKeys(stored, kms, kms_key)
    assert keys.key(key_id) == key
    assert keys.writing_key(subject) == (key_id, key)  # it goes on sealing with it
    assert keys.destroy(subject) == 1
    assert keys.key(key_id) is None


def test_kms_out_of_reach_fails_the_read_rather_than_erasing(kms: Any, kms_key: str) -> None:
    stored = MemoryPersonalKeys()
    key_id, _ = KmsWrappedKeys(stored, kms, kms_key).writing_key(uuid.uuid4())
    nowhere = boto3.client(
        "kms", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )  # fmt: skip
    with pytest.raises(EndpointConnectionError):
        KmsWrappedKeys(stored, nowhere, kms_key).key(key_id)


def test_a_key_is_unwrapped_once_per_process_and_half_minute(kms: Any, kms_key: str) -> None:
    calls: Counter[str] = Counter()
    kms.meta.events.register("before-call.kms.*", lambda model, **_: calls.update([model.name]))
    keys = KmsWrappedKeys(MemoryPersonalKeys(), kms, kms_key)
    subject = uuid.uuid4()
    written = {keys.writing_key(subject) for _ in range(100)}
    assert len(written) == 1
    assert calls == Counter({"GenerateDataKey": 1})
    later = KmsWrappedKeys(keys.stored, kms, kms_key)  # another process: one Decrypt
    assert {later.writing_key(subject) for _ in range(100)} == written
    assert calls == Counter({"GenerateDataKey": 1, "Decrypt": 1})
