"""The scratch build of `fleetwatch replay` on the embedded default (docs/audit.md 19.6): every
chosen read model rebuilt from position zero into its own scratch SQLite file, the feed read
ONCE for all of them.

Each model's worker reading the feed itself read and decoded every telemetry batch once per
model (four of the seven handle them). Here the feed is read in pages of `PAGE` notifications,
each event is decoded once (`apply_batch`'s shared `decoded`), and every worker is handed the
part of the page up to its own stopping position; each worker commits its rows and checkpoint
once per page, as its live worker does per batch.

A replay is a batch job: `fan_out_split` splits the models between as many processes as this
process may use CPUs (`split`, by their measured cost), each reading the feed once for its own
models (this process runs the first group). On 2 cores the telemetry model alone costs about
as much as the seven others together, so two processes take about 0.6 of one's time
(docs/audit.md 19.6).
"""

from __future__ import annotations

import bisect
import contextlib
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from event_store.envelope import EventEnvelope
from event_store.sqlite_files import ReadModelsDatastore, use_pool
from fleetwatch.settings import Settings
from fleetwatch.wiring import MODELS_BY_NAME, application_env
from projections.batching import BatchingProjectionWorker
from write_side.application import FleetApplication

Progress = Callable[[str, int, int], None]  # model, position, up to
PAGE = 5000  # notifications read, decoded and applied (one commit per model) at a time
# Each model's own CPU seconds in a replay of 200,000 events of mostly telemetry batches
# (`bench/replay.py`'s feed, each model alone, less the feed's reading and decoding, which a
# process pays once for all its models; 2026-12-07). A model not listed weighs 1.
WEIGHTS = {
    "telemetry": 10.0,
    "device_status": 3.0,
    "alerts": 1.9,
    "dashboard": 1.2,
    "deployments": 0.6,
    "users": 0.1,
    "firmware": 0.1,
    "exports": 0.1,
}


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


def split(names: Sequence[str], groups: int) -> list[list[str]]:
    """`names` in at most `groups` non-empty groups of about equal weight (`WEIGHTS`): the
    heaviest first, each into the lightest group so far."""
    parts: list[list[str]] = [[] for _ in range(max(1, min(groups, len(names))))]
    loads = [0.0] * len(parts)
    for name in sorted(names, key=lambda n: -WEIGHTS.get(n, 1.0)):
        lightest = loads.index(min(loads))
        parts[lightest].append(name)
        loads[lightest] += WEIGHTS.get(name, 1.0)
    return [part for part in parts if part]


def cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fan_out_split(
    app: FleetApplication,
    settings: Settings,
    directory: Path,
    workers: Mapping[str, BatchingProjectionWorker],
    up_to: Mapping[str, int],
    *,
    progress: Progress | None = None,
    page: int = PAGE,
    processes: int | None = None,
) -> None:
    """`fan_out` of `workers` (scratch workers over `{directory}/{name}.sqlite3`), the models
    split between `processes` processes (default: `cpus()`): this one applies the first
    group; each other group is built by a forked process of its own, over its own connections,
    after which this process's workers of those models stand where that process's did
    (`skip_to`). RuntimeError naming the models whose process failed."""
    groups = split(list(workers), processes or cpus())
    if len(groups) == 1 or "fork" not in multiprocessing.get_all_start_methods():
        fan_out(app, workers, up_to, progress, page)
        return
    context = multiprocessing.get_context("fork")
    messages = context.SimpleQueue()  # ("progress", name, position, up to) | ("done", name, at)
    children = [
        context.Process(
            target=_build_apart,
            args=(settings, directory, {n: up_to[n] for n in group}, page, messages),
            kwargs={"wants_progress": progress is not None},
            name=f"replay {', '.join(group)}",
        )
        for group in groups[1:]
    ]
    for child in children:
        child.start()
    reached: dict[str, int] = {}

    def drain() -> None:
        while not messages.empty():
            kind, name, position, *end = messages.get()
            if kind == "done":
                reached[name] = position
            elif progress is not None:
                progress(name, position, *end)

    def relay(name: str, position: int, end: int) -> None:
        if progress is not None:
            progress(name, position, end)
        drain()
        failed = _failed(children)
        if failed:  # stop now, not after this process's own models
            raise RuntimeError(f"the replay failed in its process: {failed}")

    try:
        own = {name: workers[name] for name in groups[0]}
        fan_out(app, own, up_to, relay, page)
        for child in children:
            while child.is_alive():
                child.join(0.1)
                drain()
        drain()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join()
    failed = _failed(children)  # every child has ended here
    if failed:
        raise RuntimeError(f"the replay failed in its process: {failed}")
    for group in groups[1:]:
        for name in group:
            workers[name].skip_to(reached[name])


def _failed(children: Sequence[Any]) -> str:
    """The names of the processes that ended with an error, "; "-joined ("" for none)."""
    return "; ".join(c.name for c in children if c.exitcode not in (None, 0))


def _build_apart(
    settings: Settings,
    directory: Path,
    up_to: Mapping[str, int],
    page: int,
    messages: Any,
    *,
    wants_progress: bool,
) -> None:
    """A forked process's part of `fan_out_split`: its own application and scratch workers
    (nothing inherited from the parent is used); its progress (when wanted) and where each
    worker stopped are sent through `messages`."""
    app = FleetApplication(env=application_env(settings))
    try:
        report = (lambda *args: messages.put(("progress", *args))) if wants_progress else None
        with scratch_workers(app, directory, list(up_to)) as workers:
            fan_out(app, workers, up_to, report, page)
            for name, worker in workers.items():
                messages.put(("done", name, worker.position))
    finally:
        app.close()


def rebuild(
    app: FleetApplication,
    settings: Settings,
    directory: Path,
    names: Sequence[str],
    up_to: int,
    *,
    progress: Progress | None = None,
    processes: int | None = None,
) -> dict[str, int]:
    """Build each of `names` from position zero up to `up_to` into `{directory}/{name}.sqlite3`
    (what `fleetwatch replay` does before comparing; `bench/replay.py`), split between
    `processes` processes (`fan_out_split`); each one's position."""
    with scratch_workers(app, directory, names) as workers:
        up_to_each = dict.fromkeys(names, up_to)
        fan_out_split(
            app, settings, directory, workers, up_to_each, progress=progress, processes=processes
        )
        return {name: worker.position for name, worker in workers.items()}
