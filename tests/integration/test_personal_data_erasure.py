"""Erasing a user's personal data on each store (docs/audit.md 19.7): the personal fields are
stored sealed, their keys apart from the events; after the erasure they read as None from the
aggregate, the feed and the users read model, while the stored events are unchanged, the
ledger still verifies every chain and the replay of the users model matches the live one."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from event_store.dynamodb.client import create_client
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.cli import app
from fleetwatch.ledger import verify_store
from fleetwatch.settings import Settings
from tests.integration.test_replay import settings as settings  # noqa: PLC0414 - each store
from write_side.errors import NotFound
from write_side.notifications import Notification
from write_side.user_commands import ErasePersonalData, RegisterPushToken, UpdateMyProfile
from write_side.users import USER_PERSONAL_DATA_ERASED, user_id_for

ALICE = EventMetadata("acme", "user:alice")
ADMIN = EventMetadata("acme", "user:root")
PERSONAL = (b"alice@example.com", b"Alice Liddell", b"+4915112345678", b"push-token-of-alice")
runner = CliRunner()
NOTE = Notification(
    key="",
    tenant_id="acme",
    user_id=uuid.UUID(int=0),
    channel="email",
    severity="warning",
    subject="[WARNING] Alert: hot",
    body="temp > 80",
    alert_id=uuid.UUID(int=1),
    transition="raised",
    address="",
)


def stored_bytes(store: Settings) -> list[bytes]:
    """Every state the store holds: the events' (SQLite) or every binary attribute of every
    item of the events table (DynamoDB)."""
    if store.store == "sqlite":
        with sqlite3.connect(store.sqlite_path) as db:
            return [bytes(row[0]) for row in db.execute("SELECT state FROM stored_events")]
    client = create_client(store.dynamodb_endpoint_url, store.dynamodb_region)
    pages = client.get_paginator("scan").paginate(TableName=f"{store.dynamodb_table_prefix}events")
    return [
        bytes(value["B"])
        for page in pages
        for item in page["Items"]
        for value in item.values()
        if "B" in value
    ]


def key_count(store: Settings) -> int:
    """The data keys stored, where they are kept: never in the event store's own tables."""
    if store.store == "sqlite":
        with sqlite3.connect(store.sqlite_path) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "personal_keys" not in tables
        keys_file = store.sqlite_path.with_name("fleet-keys.sqlite3")
        with sqlite3.connect(keys_file) as db:
            return int(db.execute("SELECT count(*) FROM personal_keys").fetchone()[0])
    client = create_client(store.dynamodb_endpoint_url, store.dynamodb_region)
    table = f"{store.dynamodb_table_prefix}personal_keys"
    return int(client.scan(TableName=table, Select="COUNT")["Count"])


def caught_up(system: System) -> None:
    head = system.event_log.head()
    assert system.wait_for(head, timeout=20)
    assert system.ledger is not None
    assert system.ledger.wait_for(head, 20.0)


def test_erasure_leaves_the_history_verifiable_and_the_personal_data_unreadable(
    settings: Settings,
) -> None:
    system = build_system(settings)
    system.start()
    try:
        users = system.user_service
        profile = UpdateMyProfile(
            email="alice@example.com", display_name="Alice Liddell", phone_e164="+4915112345678"
        )
        users.update_my_profile("alice", profile, ALICE)
        token = RegisterPushToken(token="push-token-of-alice", platform="android")
        users.register_push_token("alice", token, ALICE)
        alice = user_id_for("acme", "alice")
        caught_up(system)
        assert system.users is not None
        row = system.users.get("acme", alice)
        assert row is not None
        assert (row.email, row.push_tokens[0].token) == (
            "alice@example.com",
            "push-token-of-alice",
        )
        stored = stored_bytes(settings)
        assert stored
        assert not any(secret in state for state in stored for secret in PERSONAL)
        recorded = [n.state for n in system.app.recorder.select_notifications(start=1, limit=99)]
        assert key_count(settings) == 1

        assert system.outbox is not None  # a message to alice, as the notifier queues them
        queued = replace(
            NOTE, key=f"k-{settings.store}", user_id=alice, address="alice@example.com"
        )
        system.outbox.add([queued], datetime.now(UTC) + timedelta(hours=1))

        with pytest.raises(NotFound):  # another tenant's admin
            users.erase_personal_data(
                ErasePersonalData(user_id=alice), EventMetadata("other", "user:root")
            )
        assert key_count(settings) == 1
        saved = users.erase_personal_data(ErasePersonalData(user_id=alice), ADMIN)
        assert saved.position > 0
        assert key_count(settings) == 0
        caught_up(system)

        row = system.users.get("acme", alice)
        assert row is not None
        assert (row.email, row.display_name, row.phone_e164, row.push_tokens) == (
            None,
            None,
            None,
            (),
        )
        assert (row.subject, row.time_zone) == ("alice", "UTC")  # not personal: kept
        in_outbox = system.outbox.get("acme", queued.key)  # the notifier forgot the address
        assert in_outbox is not None
        assert (in_outbox.status, in_outbox.notification.address) == ("suppressed", "")
        user = users.get("acme", alice)
        assert (user.email, user.display_name, user.push_tokens) == (None, None, {})
        feed = [e for e in system.event_log.read_feed(limit=100) if e.stream_id == str(alice)]
        assert feed[-1].type == USER_PERSONAL_DATA_ERASED.type
        assert feed[-1].payload["keys"] == 1
        assert [e.payload.get("email") for e in feed[:2]] == [None, None]
        assert all(e.payload.get("token", None) is None for e in feed)

        after = [n.state for n in system.app.recorder.select_notifications(start=1, limit=100)]
        assert after[:-1] == recorded
        assert len(after) == len(recorded) + 1
        assert system.ledger is not None
        report = verify_store(system.app, system.settings, system.ledger)
        assert report.findings == []
        assert report.checked == len(after)

        again = users.erase_personal_data(ErasePersonalData(user_id=alice), ADMIN)
        assert again.position == 0  # nothing personal since: nothing recorded
    finally:
        system.close()

    result = runner.invoke(app, ["replay", "--models", "users"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK users ")


def test_an_event_whose_sealed_field_was_changed_does_not_decode(tmp_path: Path) -> None:
    """A sealed value edited in the store is not taken as an erasure: reading it fails, naming
    the event (the ledger names it too, as edited)."""
    store = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    system = build_system(store)
    try:
        profile = UpdateMyProfile(email="alice@example.com")
        system.user_service.update_my_profile("alice", profile, ALICE)
    finally:
        system.close()
    with sqlite3.connect(store.sqlite_path) as db:
        state = db.execute("SELECT state FROM stored_events WHERE originator_version = 2")
        text = bytes(state.fetchone()[0]).decode()
        marker = '"c":"'
        at = text.index(marker, text.index('"email"')) + len(marker)
        edited = text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1 :]
        db.execute(
            "UPDATE stored_events SET state = ? WHERE originator_version = 2", (edited.encode(),)
        )
    system = build_system(store)
    try:
        with pytest.raises(Exception, match=r"email of stream .* version 2 does not open"):
            system.user_service.get("acme", user_id_for("acme", "alice"))
    finally:
        system.close()
