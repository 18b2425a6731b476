"""The replay that proves the read models, on DynamoDB (docs/audit.md section 19.6).

Each chosen model is built by its own projection into scratch tables under a scratch prefix
(`{prefix}replay-{run}-`), deleted at the end, up to the live model's checkpoint; the live
tables are scanned between two reads of the model's tracking item, again while they differ
(`read_side.dynamodb_snapshot`). A scan has no order: each side's rows are spilled to a scratch
SQLite file and read back in key order, so the comparison holds a row a side in memory.
With `--to`, each model is built twice up to that position and the two compared (`replay_twice`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from audit.replay import compare
from fleetwatch.replay import ModelReplay, kept, reporting
from fleetwatch.replay_build import PAGE, Progress, scratch_worker
from fleetwatch.replay_to import SECOND_PAGE
from fleetwatch.wiring import MODELS_BY_NAME
from projections.batching import BatchingProjectionWorker
from read_side.dynamodb_snapshot import Row, SortedRows
from write_side.application import FleetApplication


def replay_models(
    app: FleetApplication,
    views: Mapping[str, Any],
    names: Sequence[str],
    progress: Progress | None = None,
    pause: Callable[[str], contextlib.AbstractContextManager[None]] | None = None,
    *,
    keep: str | None = None,
) -> list[ModelReplay]:
    """Replay each of `names` into scratch tables and compare with the live `views`; `pause`:
    what holds a live model still while it is scanned (`fleetwatch.replay_quiesce`); `keep`:
    the replayed tables are kept under the live prefix followed by `keep`, matched or not."""
    results = []
    for name in names:
        live = views[name]
        with _scratch(app, live, name, keep=keep) as worker, SortedRows() as live_rows:
            with pause(name) if pause is not None else contextlib.nullcontext():
                position = live_rows.fill(live, worker.tracking_name)
            with _replayed(worker, name, position, progress) as replayed_rows:
                comparison = compare(kept(name, live_rows.rows()), kept(name, replayed_rows))
        results.append(ModelReplay(name, position, comparison))
    return results


def replay_twice(
    app: FleetApplication,
    views: Mapping[str, Any],
    names: Sequence[str],
    position: int,
    *,
    progress: Progress | None = None,
    keep: str | None = None,
) -> list[ModelReplay]:
    """`fleetwatch replay --to` on DynamoDB: each of `names` built up to `position` twice, in
    two sets of scratch tables, committing every `PAGE` notifications, then every
    `SECOND_PAGE` (`fleetwatch.replay_to`: a batching-dependent row differs), and compared.
    `keep`: the first build's tables are kept under the live prefix followed by `keep`: the
    read models as of `position` (docs/audit.md 19.2)."""
    results = []
    for name in names:
        with (
            _scratch(app, views[name], name, PAGE, keep) as first,
            _scratch(app, views[name], name, SECOND_PAGE) as second,
            _replayed(first, name, position, progress) as one,
            _replayed(second, name, position, None) as two,
        ):
            comparison = compare(kept(name, one), kept(name, two))
        results.append(ModelReplay(name, position, comparison))
    return results


@contextlib.contextmanager
def _scratch(
    app: FleetApplication, live: Any, name: str, max_batch: int = 1000, keep: str | None = None
) -> Iterator[BatchingProjectionWorker]:
    """The model's worker over fresh tables under a scratch prefix, dropped at the end (kept
    under the live prefix and `keep`, when given and nothing failed)."""
    prefix = f"{live.table_prefix}{keep or f'replay-{uuid.uuid4().hex[:8]}-'}"
    datastore = dataclasses.replace(live.datastore, table_prefix=prefix)
    view_class, dynamodb_reader = MODELS_BY_NAME[name].dynamodb
    view = view_class(datastore=datastore)
    kept = False
    try:
        view.create_table()
        reader = dynamodb_reader(view.client, prefix)
        yield scratch_worker(app, name, view, reader, max_batch)
        kept = keep is not None
    finally:
        if not kept:
            _drop_tables(view.client, prefix)


@contextlib.contextmanager
def _replayed(
    worker: BatchingProjectionWorker, name: str, position: int, progress: Progress | None
) -> Iterator[Iterator[Row]]:
    """The rows of the model replayed up to `position` (its checkpoint is the last event it
    handled there, at or before it), in key order."""
    worker.catch_up_to(position, reporting(progress, name))
    if worker.position != position:
        raise RuntimeError(f"{name}: replayed to {worker.position}, not {position}")
    with SortedRows() as rows:
        rows.fill(worker.checkpoints, worker.tracking_name)
        yield rows.rows()


def _drop_tables(client: Any, prefix: str) -> None:
    for page in client.get_paginator("list_tables").paginate():
        for table in page.get("TableNames", []):
            if table.startswith(prefix):
                client.delete_table(TableName=table)
