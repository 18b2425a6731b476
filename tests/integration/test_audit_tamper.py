"""Tamper evidence on both stores (docs/audit.md section 19.4): a small history is ledgered,
then the event store is changed behind the system's back (sqlite3 on the SQLite file; boto3
on the DynamoDB Local items) and verification must name each kind of change: edited, deleted,
inserted, reordered. Each change is undone before the next, after which the history verifies
clean again. One history per store keeps this lean; `fleetwatch audit verify` runs once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from typer.testing import CliRunner

from audit.canonical import StoredRecord
from audit.records import feed_records
from audit.verify import Report
from event_store.dynamodb.codec import (
    decode_feed_chunk,
    decode_stream_chunk,
    encode_feed_chunk,
    encode_stream_chunk,
)
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.cli import app as cli
from fleetwatch.ledger import verify_store
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice, UpdateDevice


def _history(system: System) -> list[StoredRecord]:
    """Two tenants' devices, registered then renamed, one event per commit (positions 1-8:
    acme d0, d0, d1, d1, d2, d2, then other d0, d0), ledgered and verified clean."""
    for tenant, count in (("acme", 3), ("other", 1)):
        meta = EventMetadata(tenant, "user:alice")
        for i in range(count):
            saved = system.device_service.register(
                RegisterDevice(name=f"d{i}", device_type="p"), meta
            )
            rename = UpdateDevice(device_id=saved.aggregate.id, name=f"e{i}")
            system.device_service.update(rename, meta)
    assert system.ledger is not None
    system.ledger.start()  # the worker's own thread, as in a running system
    try:
        assert system.ledger.wait_for(system.app.recorder.max_notification_id() or 0, 10.0)
    finally:
        system.ledger.stop()
    report = _verify(system)
    assert (report.findings, report.checked) == ([], 8)
    records = list(feed_records(system.app.recorder))
    assert [r.version for r in records] == [1, 2] * 4
    return records


def _verify(system: System) -> Report:
    assert system.ledger is not None
    return verify_store(system.app, system.settings, system.ledger)


def _named(system: System) -> list[tuple[str, str, int | None]]:
    return sorted((f.kind, f.stream_id, f.version) for f in _verify(system).findings)


def test_sqlite_tampering_of_each_kind_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    system = build_system(settings)
    try:
        records = _history(system)
        db = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        set_state = "UPDATE stored_events SET state = ? WHERE rowid = ?"
        move = "UPDATE stored_events SET rowid = ? WHERE rowid = ?"

        (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 4").fetchone()
        db.execute(set_state, (state.replace(b'"e1"', b'"x1"'), 4))
        assert _named(system) == [("edited", records[3].stream_id, 2)]
        _cli_verify_fails_naming(monkeypatch, settings, "edited: position 4")
        db.execute(set_state, (state, 4))

        row = db.execute("SELECT rowid, * FROM stored_events WHERE rowid = 6").fetchone()
        db.execute("DELETE FROM stored_events WHERE rowid = 6")
        assert _named(system) == [("deleted", records[5].stream_id, 2)]
        columns = "rowid, originator_id, originator_version, topic, state"
        db.execute(f"INSERT INTO stored_events ({columns}) VALUES (?, ?, ?, ?, ?)", row)

        # Backdated: a forged event at position 3, the later ones moved one on.
        for rowid in range(8, 2, -1):
            db.execute(move, (rowid + 1, rowid))
        forged = uuid4()
        db.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "SELECT 3, ?, 1, topic, state FROM stored_events WHERE rowid = 1",
            (forged.hex,),
        )
        assert _named(system) == [("inserted", str(forged), 1)]
        db.execute("DELETE FROM stored_events WHERE rowid = 3")
        for rowid in range(4, 10):
            db.execute(move, (rowid - 1, rowid))

        for new, old in ((-1, 4), (4, 5), (5, -1)):  # positions 4 and 5 swapped
            db.execute(move, (new, old))
        # The fewest moved events that explain the order: the one now ahead of its place.
        assert _named(system) == [("reordered", records[4].stream_id, 1)]
        for new, old in ((-1, 4), (4, 5), (5, -1)):
            db.execute(move, (new, old))
        db.close()
        assert _verify(system).findings == []
    finally:
        system.close()


def _cli_verify_fails_naming(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, expected: str
) -> None:
    monkeypatch.setenv("FLEETWATCH_STORE", "sqlite")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(settings.sqlite_path))
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "8 ledgered events checked, 1 findings" in result.output


def test_dynamodb_tampering_of_each_kind_is_named(
    dynamodb_endpoint: str, table_prefix: str
) -> None:
    settings = Settings(
        store="dynamodb",
        dynamodb_endpoint_url=dynamodb_endpoint,
        dynamodb_table_prefix=table_prefix,
    )
    system = build_system(settings)
    try:
        records = _history(system)
        recorder: Any = system.app.recorder
        client, table, ns = recorder.client, recorder.events_table_name, recorder.keys.prefix

        def item(pk: str, sk: int) -> dict[str, Any]:
            key = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
            found: dict[str, Any] = client.get_item(TableName=table, Key=key, ConsistentRead=True)
            return found["Item"]

        def put(*items: dict[str, Any]) -> None:
            for one in items:
                client.put_item(TableName=table, Item=one)

        assert system.ledger is not None
        signed = system.ledger.ledger.checkpoint_now()  # on demand; again: the same sizes kept
        assert (
            [c.tree_size for c in signed]
            == [6, 2]
            == [c.tree_size for c in system.ledger.ledger.checkpoint_now()]
        )
        assert _verify(system).findings == []

        feed = f"{ns}f#0"  # one event per commit: a feed item's sk is its position
        renamed = records[3].stream_id
        feed_4, stream_4 = item(feed, 4), item(f"{ns}s#{renamed}", 2)
        edited = [
            StoredEvent(
                e.originator_id, e.originator_version, e.topic, e.state.replace(b'"e1"', b'"x1"')
            )
            for e in decode_feed_chunk(feed_4["b"]["B"])
        ]
        (one,) = decode_stream_chunk(stream_4["b"]["B"])
        stream_edit = [(one.offset, StoredEvent(renamed, 2, one.topic, edited[0].state))]
        for key, blob in (
            (feed_4, encode_feed_chunk(edited)),
            (stream_4, encode_stream_chunk(stream_edit)),
        ):
            client.update_item(
                TableName=table,
                Key={"pk": key["pk"], "sk": key["sk"]},
                UpdateExpression="SET b = :b",
                ExpressionAttributeValues={":b": {"B": blob}},
            )
        assert _named(system) == [("edited", renamed, 2)] * 2  # the feed's and the stream's
        put(feed_4, stream_4)

        gone = records[5].stream_id
        feed_6, stream_6 = item(feed, 6), item(f"{ns}s#{gone}", 2)
        for key in (feed_6, stream_6):
            client.delete_item(TableName=table, Key={"pk": key["pk"], "sk": key["sk"]})
        assert _named(system) == [("deleted", gone, 2)] * 2
        put(feed_6, stream_6)

        # A forged third event in a device's stream, which the aggregate would load.
        device = records[1].stream_id
        forged = StoredEvent(device, 3, records[1].topic, records[1].state)
        forged_item = {
            "pk": {"S": f"{ns}s#{device}"},
            "sk": {"N": "3"},
            "a": {"N": "3"},
            "b": {"B": encode_stream_chunk([(0, forged)])},
        }
        put(forged_item)
        assert _named(system) == [("inserted", device, 3)]
        client.delete_item(TableName=table, Key={"pk": forged_item["pk"], "sk": forged_item["sk"]})

        feed_5 = item(feed, 5)
        put({**feed_4, "b": feed_5["b"]}, {**feed_5, "b": feed_4["b"]})  # positions 4 and 5
        assert _named(system) == [("reordered", records[4].stream_id, 1)]
        put(feed_4, feed_5)
        assert _verify(system).findings == []
    finally:
        system.close()
