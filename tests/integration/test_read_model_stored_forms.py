"""Rows and items as the users and alerts read models stored them before their codecs were
derived from the rows' fields (`read_side.columns`), written here literally: each must read back
as the row it was, and on SQLite the view must go on writing into the table as it is.

A file or a table made by an earlier release is not migrated, so a codec change that alters
how a stored value reads fails here first. DynamoDB items are served by a stub client: what is
under test is the reader's decoding of the item, not DynamoDB."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from read_side.alerts import AlertRow, AlertRuleRow, AlertsChanges, TimelineEntry
from read_side.alerts.dynamodb import DynamoDBAlertReader
from read_side.alerts.sqlite import SQLiteAlertReader, SQLiteAlertsView
from read_side.users import PushTokenRow, UserRow
from read_side.users.dynamodb import DynamoDBUsersReader
from read_side.users.sqlite import SQLITE_ROWS, SQLiteUsersReader, SQLiteUsersView

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RULE = uuid.UUID("11111111111111111111111111111111")
ALERT = uuid.UUID("22222222222222222222222222222222")
DEVICE = uuid.UUID("33333333333333333333333333333333")
EVENT = uuid.UUID("44444444444444444444444444444444")

# The users table as the release before derived codecs created it.
USERS_TABLE = (
    "CREATE TABLE users ("
    "tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, subject TEXT NOT NULL, email TEXT, "
    "display_name TEXT, phone_e164 TEXT, time_zone TEXT NOT NULL, locale TEXT NOT NULL, "
    "preferences TEXT NOT NULL, push_tokens TEXT NOT NULL, version INTEGER NOT NULL, "
    "updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id)) WITHOUT ROWID"
)
PREFERENCES_JSON = (
    '{"channels":{"critical":["email","push"],"info":[]},"critical_overrides_quiet_hours":true,'
    '"quiet_hours":{"end":"07:00","start":"22:00"}}'
)
TOKENS_JSON = (
    '[{"token_id":"00010000000000ab","platform":"ios","token":"t\\u00f6k-1",'
    '"registered_at":"2026-01-01T12:00:00+00:00"}]'
)
USER = UserRow(
    tenant_id="acme",
    user_id=RULE,
    subject="auth0|1",
    email="u1@example.com",
    display_name=None,
    phone_e164="+4930123456",
    time_zone="Europe/Berlin",
    locale="de-DE",
    preferences={
        "channels": {"critical": ["email", "push"], "info": []},
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "critical_overrides_quiet_hours": True,
    },
    push_tokens=(PushTokenRow("00010000000000ab", "ios", "tök-1", T0),),
    version=3,
    updated_at=T0 + timedelta(minutes=5),
)

RULE_JSON = (
    '{"created_at":"2026-01-01T12:00:00+00:00","definition":{"kind":"threshold","metric":"temp",'
    '"op":">","scope":{"tags":["north"]},"value":80},"deleted":false,"enabled":true,'
    '"name":"Hot pump","position":41,"revision":2,"revisions":[{"definition":{"kind":'
    '"threshold","metric":"temp","op":">","value":70},"revised_at":"2026-01-01T12:00:00+00:00",'
    '"revised_by":"user:a","revision":1}],"rule_id":"11111111-1111-1111-1111-111111111111",'
    '"severity":"critical","tenant_id":"acme","updated_at":"2026-01-01T13:00:00+00:00",'
    '"version":3}'
)
ALERT_JSON = (
    '{"acknowledge_note":null,"acknowledged_at":"2026-01-01T12:03:00+00:00","acknowledged_by":'
    '"user:a","alert_id":"22222222-2222-2222-2222-222222222222","condition_text":"temp > 80",'
    '"count":3,"device_id":"33333333-3333-3333-3333-333333333333","device_name":"pump 7",'
    '"episode":1,"kind":"absence","last_at":"2026-01-01T12:02:00+00:00","last_value":null,'
    '"metric":null,"peak_value":90,"position":57,"raised_at":"2026-01-01T12:00:00+00:00",'
    '"repeat_run":null,"resolution":null,"resolve_note":null,"resolved_at":null,'
    '"resolved_by":null,"rule_id":"11111111-1111-1111-1111-111111111111","rule_name":"Hot pump",'
    '"rule_revision":2,"severity":"critical","state":"acknowledged","tenant_id":"acme",'
    '"threshold":80.0,"trigger_value":81.5,"version":4}'
)
ENTRY_JSON = (
    '{"actor":"user:a","alert_id":"22222222-2222-2222-2222-222222222222",'
    '"at":"2026-01-01T12:00:00+00:00","count":1,"device_id":'
    '"33333333-3333-3333-3333-333333333333","event_id":"44444444-4444-4444-4444-444444444444",'
    '"key":"2026-01-01T12:00:00.000000Z#57","last_at":null,"note":"on it","position":57,'
    '"recorded_at":"2026-01-01T12:00:01+00:00","rule_id":"11111111-1111-1111-1111-111111111111",'
    '"severity":"critical","state_after":"acknowledged","tenant_id":"acme",'
    '"transition":"acknowledged","value":null}'
)
RULE_ROW = AlertRuleRow(
    "acme",
    RULE,
    2,
    "Hot pump",
    "critical",
    True,
    False,
    {"kind": "threshold", "metric": "temp", "op": ">", "value": 80, "scope": {"tags": ["north"]}},
    [
        {
            "revision": 1,
            "definition": {"kind": "threshold", "metric": "temp", "op": ">", "value": 70},
            "revised_at": "2026-01-01T12:00:00+00:00",
            "revised_by": "user:a",
        }
    ],
    3,
    T0,
    T0 + timedelta(hours=1),
    41,
)
ALERT_ROW = AlertRow(
    "acme",
    ALERT,
    RULE,
    2,
    "Hot pump",
    DEVICE,
    "pump 7",
    1,
    "critical",
    "acknowledged",
    "absence",
    None,
    81.5,
    80.0,
    "temp > 80",
    T0,
    3,
    None,
    90.0,
    T0 + timedelta(minutes=2),
    4,
    57,
    acknowledged_at=T0 + timedelta(minutes=3),
    acknowledged_by="user:a",
)
ENTRY_ROW = TimelineEntry(
    "acme",
    "2026-01-01T12:00:00.000000Z#57",
    EVENT,
    ALERT,
    DEVICE,
    RULE,
    "critical",
    "acknowledged",
    "acknowledged",
    "user:a",
    T0,
    T0 + timedelta(seconds=1),
    57,
    note="on it",
)


class OneItem:
    """A DynamoDB client stub whose every `get_item` answers `item`."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {"Item": self.item}


def test_a_stored_users_row_reads_back_and_the_table_takes_new_writes(tmp_path: Path) -> None:
    path = tmp_path / "read-models.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(USERS_TABLE)
        db.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "acme",
                RULE.hex,
                "auth0|1",
                "u1@example.com",
                None,
                "+4930123456",
                "Europe/Berlin",
                "de-DE",
                PREFERENCES_JSON,
                TOKENS_JSON,
                3,
                "2026-01-01T12:05:00+00:00",
            ),
        )
    db.close()
    datastore = SQLiteDatastore(str(path))
    view = SQLiteUsersView(datastore=datastore)
    view.create_table()
    reader = SQLiteUsersReader(datastore)
    assert reader.get("acme", RULE) == USER

    newer = replace(USER, email=None, display_name="Ünïcode", push_tokens=(), version=4)
    view.save_many([newer], Tracking("users", 1))
    assert reader.tenant_users("acme") == [newer]
    datastore.close()


def test_the_users_table_derived_from_the_row_is_the_one_existing_files_have() -> None:
    derived = SQLITE_ROWS.create_table("users", ("tenant_id", "user_id"))
    assert derived == USERS_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")


def test_a_stored_users_item_reads_back() -> None:
    item = {
        "tenant_id": {"S": "acme"},
        "user_id": {"S": RULE.hex},
        "subject": {"S": "auth0|1"},
        "email": {"S": "u1@example.com"},
        "phone_e164": {"S": "+4930123456"},
        "time_zone": {"S": "Europe/Berlin"},
        "locale": {"S": "de-DE"},
        "preferences": {"S": PREFERENCES_JSON},
        "push_tokens": {"S": TOKENS_JSON},
        "version": {"N": "3"},
        "updated_at": {"S": "2026-01-01T12:05:00+00:00"},
    }
    assert DynamoDBUsersReader(OneItem(item), "p_").get("acme", RULE) == USER


def test_stored_alert_rows_read_back_and_the_tables_take_new_writes(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "read-models.sqlite3"))
    view = SQLiteAlertsView(datastore=datastore)
    view.create_table()
    with datastore.transaction(commit=True) as c:
        c.execute(
            "INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, ?)",
            ("acme", RULE.hex, "critical", 1, 0, RULE_JSON),
        )
        c.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "acme",
                ALERT.hex,
                f"2026-01-01T12:00:00.000000Z#{ALERT.hex}",
                DEVICE.hex,
                RULE.hex,
                "acknowledged",
                "critical",
                ALERT_JSON,
            ),
        )
        c.execute(
            "INSERT INTO alert_timeline VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "acme",
                ENTRY_ROW.key,
                ALERT.hex,
                DEVICE.hex,
                RULE.hex,
                "critical",
                "acknowledged",
                "acknowledged",
                ENTRY_JSON,
            ),
        )
    reader = SQLiteAlertReader(datastore)
    assert reader.get_rule("acme", RULE) == RULE_ROW
    assert reader.get_alert("acme", ALERT) == ALERT_ROW
    assert reader.timeline_entry("acme", ENTRY_ROW.key) == ENTRY_ROW

    resolved = replace(ALERT_ROW, state="resolved", resolved_at=T0, version=5, position=60)
    view.commit(AlertsChanges(alerts=[resolved]), Tracking("alert_views", 1))
    assert reader.get_alert("acme", ALERT) == resolved
    datastore.close()


def test_stored_alert_items_read_back() -> None:
    def reader(data: str) -> DynamoDBAlertReader:
        return DynamoDBAlertReader(OneItem({"tenant_id": {"S": "acme"}, "d": {"S": data}}), "p_")

    assert reader(RULE_JSON).get_rule("acme", RULE) == RULE_ROW
    assert reader(ALERT_JSON).get_alert("acme", ALERT) == ALERT_ROW
    assert reader(ENTRY_JSON).timeline_entry("acme", ENTRY_ROW.key) == ENTRY_ROW
