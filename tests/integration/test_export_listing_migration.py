"""The exports listing on a store made before it (docs/analytics.md 20.5): a SQLite read-models
file whose `exports` table has no `requested_key` gets the column and each row its key when the
model opens, so old exports are listed in order; a DynamoDB `exports` table made without the
index `by_requested` gets it (UpdateTable, backfilled by DynamoDB Local) and lists the rows that
carry the key (rows written before it are listed once `projections rebuild exports` rewrote
them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from eventsourcing.persistence import Tracking

from event_store.dynamodb.client import create_client
from event_store.dynamodb.tables import table_spec
from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env, open_read_model
from read_side.exports import ExportFilter
from read_side.exports.dynamodb import BY_REQUESTED, ITEMS, table_name
from tests.integration.read_models.test_exports_contract import T0, row
from write_side.application import FleetApplication


def test_an_old_sqlite_file_gets_the_key_of_every_row(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    rows = [row("acme", requested_at=T0.replace(hour=h)) for h in (3, 1, 2)]
    app = FleetApplication(env=application_env(settings))
    view, _ = open_read_model(app, settings, "exports")
    view.save_many(rows, Tracking("m", 1))
    app.close()
    with sqlite3.connect(settings.read_models_path) as db:  # as a file made before the key
        db.execute("DROP INDEX exports_by_requested")
        db.execute("ALTER TABLE exports DROP COLUMN requested_key")

    app = FleetApplication(env=application_env(settings))
    try:
        _, reader = open_read_model(app, settings, "exports")
        listed = reader.exports("acme", ExportFilter(), 10, None).items
        assert [r.requested_at.hour for r in listed] == [3, 2, 1]
    finally:
        app.close()


def test_an_old_dynamodb_table_gets_the_index(dynamodb_endpoint: str, table_prefix: str) -> None:
    settings = Settings(
        store="dynamodb", dynamodb_endpoint_url=dynamodb_endpoint,
        dynamodb_table_prefix=table_prefix,
    )  # fmt: skip
    client = create_client(dynamodb_endpoint, "us-east-1")
    name = table_name(table_prefix)
    client.create_table(**table_spec(name, "tenant_id", "export_id"))  # without the index
    client.get_waiter("table_exists").wait(TableName=name)
    old = row("acme", requested_at=T0)
    item = ITEMS.to_item(old)
    del item["requested_key"]  # as written before the key existed
    client.put_item(TableName=name, Item=item)

    app = FleetApplication(env=application_env(settings))
    try:
        view, reader = open_read_model(app, settings, "exports")
        indexes = client.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
        assert [(i["IndexName"], i["IndexStatus"]) for i in indexes] == [(BY_REQUESTED, "ACTIVE")]
        new = row("acme", requested_at=T0.replace(hour=1))
        view.save_many([new], Tracking("m", 1))
        assert reader.exports("acme", ExportFilter(), 10, None).items == [new]
        assert reader.get("acme", old.export_id) == old  # still read by its key
        view.reset("m")  # a rebuild: the rows written again from the feed
        view.save_many([old, new], Tracking("m", 1))
        listed = reader.exports("acme", ExportFilter(), 10, None).items
        assert listed == [new, old]  # newest first
    finally:
        app.close()
