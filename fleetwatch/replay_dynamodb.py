"""The replay that proves the read models, on DynamoDB (docs/audit.md section 19.6).

Each chosen model is built by its own projection into scratch tables under a scratch prefix
(`{prefix}replay-{run}-`), deleted at the end, up to the live model's checkpoint; the live
tables are scanned between two reads of the model's tracking item, again while they differ
(`read_side.dynamodb_snapshot`). A scan has no order: both sides are sorted in memory by key.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from audit.replay import compare, order
from fleetwatch.replay import ModelReplay, kept, reporting
from fleetwatch.replay_build import Progress, scratch_worker
from fleetwatch.wiring import MODELS_BY_NAME
from read_side.dynamodb_snapshot import Row, snapshot
from write_side.application import FleetApplication


def replay_models(
    app: FleetApplication,
    views: Mapping[str, Any],
    names: Sequence[str],
    progress: Progress | None = None,
) -> list[ModelReplay]:
    """Replay each of `names` into scratch tables and compare with the live `views`."""
    results = []
    for name in names:
        live = views[name]
        prefix = f"{live.table_prefix}replay-{uuid.uuid4().hex[:8]}-"
        datastore = dataclasses.replace(live.datastore, table_prefix=prefix)
        view_class, dynamodb_reader = MODELS_BY_NAME[name].dynamodb
        view = view_class(datastore=datastore)
        try:
            view.create_table()
            worker = scratch_worker(app, name, view, dynamodb_reader(view.client, prefix))
            position, live_rows = snapshot(live, worker.tracking_name)
            worker.catch_up_to(position, reporting(progress, name))
            replayed_at, replayed_rows = snapshot(view, worker.tracking_name)
            if replayed_at != position:
                raise RuntimeError(f"{name}: replayed to {replayed_at}, not {position}")
            comparison = compare(_sorted(name, live_rows), _sorted(name, replayed_rows))
            results.append(ModelReplay(name, position, comparison))
        finally:
            _drop_tables(view.client, prefix)
    return results


def _sorted(name: str, rows: list[Row]) -> list[Row]:
    return sorted(kept(name, rows), key=lambda row: order(row[0]))


def _drop_tables(client: Any, prefix: str) -> None:
    for page in client.get_paginator("list_tables").paginate():
        for table in page.get("TableNames", []):
            if table.startswith(prefix):
                client.delete_table(TableName=table)
