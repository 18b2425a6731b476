"""The users and alert rows' codecs derive from the rows' fields (`read_side.columns`): a field
added to `UserRow` or to an alert row is stored and read back by every codec with no other edit,
and what was stored before it existed reads it as its default."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.sqlite import SQLiteCursor

from read_side.alerts import AlertRow, dumps, from_record, loads, to_record
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.sqlite_rows import SQLiteRowCodec
from read_side.users import PushTokenRow, UserRow
from read_side.users.dynamodb import ITEMS
from read_side.users.sqlite import SQLITE_ROWS

T0 = datetime(2026, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)


@dataclass(frozen=True)
class WithMute(UserRow):
    """A throwaway definition: the users row with fields more."""

    muted_until: datetime | None = None
    muted_channels: tuple[str, ...] = ()
    mute_count: int = 0


@dataclass(frozen=True)
class WithLinks(AlertRow):
    """A throwaway definition: the alert row with fields more."""

    related: tuple[uuid.UUID, ...] = ()
    snoozed_until: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


def a_user(**more: Any) -> Any:
    kind = WithMute if more else UserRow
    return kind(
        tenant_id="acme",
        user_id=uuid.uuid4(),
        subject="auth0|7",
        email=None,
        display_name="Ünïcode",
        phone_e164=None,
        time_zone="UTC",
        locale="en",
        preferences={"channels": {"critical": ["push"]}, "quiet_hours": None},
        push_tokens=(PushTokenRow("ab" * 8, "web", "tok", T0),),
        version=2,
        updated_at=T0,
        **more,
    )


def an_alert(**more: Any) -> Any:
    kind = WithLinks if more else AlertRow
    return kind(
        "acme",
        uuid.uuid4(),
        uuid.uuid4(),
        1,
        "Hot",
        uuid.uuid4(),
        "pump",
        1,
        "critical",
        "open",
        "threshold",
        "temp",
        81.5,
        80.0,
        "temp > 80",
        T0,
        1,
        81.5,
        81.5,
        T0,
        1,
        9,
        **more,
    )


def sqlite_table(codec: SQLiteRowCodec[Any], rows: list[Any]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute(codec.create_table("users", ("tenant_id", "user_id")))
    db.executemany(codec.upsert("users"), [codec.to_row(row) for row in rows])
    return db


def at_defaults(row: Any, kind: type) -> Any:
    return kind(**{f.name: getattr(row, f.name) for f in fields(type(row))})


def test_a_field_added_to_the_users_row_is_stored_by_both_stores_with_no_other_edit() -> None:
    row = a_user(
        muted_until=T0 + timedelta(hours=8), muted_channels=("sms", "push"), mute_count=2**40
    )
    sqlite, items = SQLiteRowCodec(WithMute), DynamoDBItemCodec(WithMute, json_containers=True)
    db = sqlite_table(sqlite, [row])
    assert sqlite.from_row(db.execute("SELECT * FROM users").fetchone()) == row
    assert items.from_item(items.to_item(row)) == row


def test_users_stored_before_a_field_was_added_read_it_as_its_default() -> None:
    before = a_user()
    db = sqlite_table(SQLITE_ROWS, [before])
    new = SQLiteRowCodec(WithMute)
    new.add_missing_columns(SQLiteCursor(db.cursor()), "users")
    expected = at_defaults(before, WithMute)
    assert new.from_row(db.execute("SELECT * FROM users").fetchone()) == expected
    item = ITEMS.to_item(before)
    assert DynamoDBItemCodec(WithMute, json_containers=True).from_item(item) == expected


def test_a_field_added_to_an_alert_row_is_kept_in_its_record_with_no_other_edit() -> None:
    row = an_alert(related=(uuid.uuid4(), uuid.uuid4()), snoozed_until=T0, labels={"site": "north"})
    assert loads(WithLinks, dumps(row)) == row
    assert from_record(WithLinks, to_record(row)) == row
    before = an_alert()
    assert loads(WithLinks, dumps(before)) == at_defaults(before, WithLinks)
