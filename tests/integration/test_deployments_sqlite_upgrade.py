"""A read-models file whose deployments tables were written before their sort-key columns
(`created_key`, `queued_key`) opens with the keys filled in for the rows already there, so
listing them pages in the documented order, exactly once."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from read_side.deployments import (
    DeploymentFilter,
    DeploymentsChanges,
    DeploymentStatus,
    ExecutionState,
)
from read_side.deployments.sqlite import SQLiteDeploymentsReader, SQLiteDeploymentsView
from tests.integration.read_models.test_ota_contract import deployment, execution

NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_rows_written_before_the_sort_keys_get_them_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "read-models.sqlite3"
    view = SQLiteDeploymentsView(datastore=SQLiteDatastore(str(path)))
    view.create_table()
    times = [NOON, NOON + timedelta(microseconds=1), NOON, NOON - timedelta(seconds=1)]
    rows = [
        replace(deployment("acme", i, uuid.uuid4(), DeploymentStatus.RUNNING), created_at=at)
        for i, at in enumerate(times)
    ]
    device = uuid.uuid4()
    runs = [
        replace(execution(r, device, ExecutionState.QUEUED, 0), queued_at=r.created_at)
        for r in rows
    ]
    view.commit([DeploymentsChanges(rows, runs)], Tracking("t", 1))
    with sqlite3.connect(path) as db:  # as an earlier release left the file
        keys = (("deployments", "created_key"), ("deployment_executions", "queued_key"))
        for table, column in keys:
            db.execute(f"DROP INDEX {table}_by_{column}")
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.close()

    datastore = SQLiteDatastore(str(path))
    SQLiteDeploymentsView(datastore=datastore).create_table()
    reader = SQLiteDeploymentsReader(datastore)
    listed, after = [], None
    for _ in rows:
        page = reader.deployments("acme", DeploymentFilter(), 1, after)
        listed += page.items
        after = page.next_cursor
    assert after is None
    newest_first = sorted(rows, key=lambda r: (r.created_at, r.deployment_id.hex), reverse=True)
    assert listed == newest_first
    mine = reader.device_executions("acme", device, 10, None).items
    assert mine == sorted(runs, key=lambda e: (e.queued_at, e.execution_id.hex), reverse=True)
