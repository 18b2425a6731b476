"""The scratch build of `fleetwatch replay` on the embedded default (docs/audit.md 19.6): every
chosen read model rebuilt from position zero into its own scratch SQLite file, the feed read
ONCE for all of them.

Each model's worker reading the feed itself read and decoded every telemetry batch once per
model (four of the seven handle them). Here the feed is read in pages of `PAGE` notifications,
each event is decoded once (`apply_batch`'s shared `decoded`), and every worker is handed the
part of the page up to its own stopping position; each worker commits its rows and checkpoint
once per page, as its live worker does per batch. One thread: a replay is a batch job.
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from event_store.envelope import EventEnvelope
from event_store.sqlite_files import ReadModelsDatastore, use_pool
from fleetwatch.wiring import MODELS_BY_NAME
from projections.batching import BatchingProjectionWorker
from write_side.application import FleetApplication

Progress = Callable[[str, int, int], None]  # model, position, up to
PAGE = 5000  # notifications read, decoded and applied (one commit per model) at a time


# A scratch file is thrown away after the run, and one lost to a crash is rebuilt: no fsync.
SCRATCH_PRAGMAS = ("PRAGMA synchronous=OFF", "PRAGMA cache_size=-65536")


def copy_file(source: Path, target: Path) -> None:
    """A whole copy of a SQLite file, its write-ahead log included (SQLite's backup): how a
    scratch model is kept (`fleetwatch replay --keep`)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as db,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        db.backup(copy)


class ScratchDatastore(ReadModelsDatastore):
    """A read model's datastore for a scratch file (`SCRATCH_PRAGMAS`)."""

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        use_pool(self, SCRATCH_PRAGMAS)


def scratch_worker(
    app: FleetApplication, name: str, view: Any, reader: Any, max_batch: int = 1000
) -> BatchingProjectionWorker:
    """The model's projection over the live feed into a scratch view; it publishes nothing, so
    a projection that can is told to build no change notices (`notices`). `max_batch`: the
    notifications of one commit when it catches up by itself (`catch_up_to`)."""
    projection = MODELS_BY_NAME[name].projection(view, reader)
    if hasattr(projection, "notices"):
        projection.notices = False
    return BatchingProjectionWorker(
        projection,
        max_batch=max_batch,
        checkpoints=view,
        recorder=app.recorder,
        mapper=app.envelope_mapper,
        upstream_name=app.name,
    )


@contextlib.contextmanager
def scratch_workers(
    app: FleetApplication, directory: Path, names: Sequence[str]
) -> Iterator[dict[str, BatchingProjectionWorker]]:
    """A worker per model of `names` over a fresh view in `{directory}/{name}.sqlite3`."""
    datastores: list[ScratchDatastore] = []
    try:
        workers = {}
        for name in names:
            datastore = ScratchDatastore(str(directory / f"{name}.sqlite3"))
            datastores.append(datastore)
            view_class, sqlite_reader = MODELS_BY_NAME[name].sqlite
            view = view_class(datastore=datastore)
            view.create_table()
            workers[name] = scratch_worker(app, name, view, sqlite_reader(datastore))
        yield workers
    finally:
        for datastore in datastores:
            datastore.close()


def fan_out(
    app: FleetApplication,
    workers: Mapping[str, BatchingProjectionWorker],
    up_to: Mapping[str, int],
    progress: Progress | None = None,
    page: int = PAGE,
) -> int:
    """Apply the feed to each worker up to its `up_to`, reading it once; how many
    notifications were read. `progress(name, position, up_to)` after each page."""
    head = max(up_to.values(), default=0)
    position = min((w.position for w in workers.values()), default=head)
    read = 0
    while position < head:
        batch = app.recorder.select_notifications(
            start=position, limit=page, stop=head, inclusive_of_start=False
        )
        if not batch:
            break
        ids = [n.id for n in batch]
        decoded: dict[int, EventEnvelope] = {}  # each event decoded once, for all of them
        for name, worker in workers.items():
            end = bisect.bisect_right(ids, up_to[name])
            worker.apply_batch(batch[bisect.bisect_right(ids, worker.position) : end], decoded)
            if progress is not None:
                progress(name, min(ids[-1], up_to[name]), up_to[name])
        position, read = ids[-1], read + len(batch)
    return read


def rebuild(
    app: FleetApplication,
    directory: Path,
    names: Sequence[str],
    up_to: int,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Build each of `names` from position zero up to `up_to` into `{directory}/{name}.sqlite3`
    (what `fleetwatch replay` does before comparing; `bench/replay.py`); each one's position."""
    with scratch_workers(app, directory, names) as workers:
        fan_out(app, workers, dict.fromkeys(names, up_to), progress)
        return {name: worker.position for name, worker in workers.items()}
