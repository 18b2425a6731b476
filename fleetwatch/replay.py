"""The replay that proves the read models (docs/audit.md section 19.6): on the embedded
default here, and what both stores share (the neutral rows, the result); DynamoDB's in
`fleetwatch.replay_dynamodb`, the scratch build in `fleetwatch.replay_build`.

On SQLite each chosen read model is built by its own projection into a scratch SQLite file
beside the live read-models file (a temporary directory, removed at the end), over the feed up
to the live model's checkpoint (read once for all the models), and both are compared row by
row in key order (`audit.replay.compare`). The live rows and their checkpoint are read in one
read transaction; a worker that moved meanwhile only moves the checkpoint the scratch catches
up to inside that transaction.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from audit.replay import Comparison, compare
from fleetwatch.replay_build import Progress, copy_file, fan_out_split, scratch_workers
from fleetwatch.settings import Settings
from projections.batching import BatchingProjectionWorker
from read_side.sqlite_snapshot import Scalar, model_tables, snapshot
from write_side.application import FleetApplication

Row = tuple[tuple[Scalar, ...], dict[str, Scalar]]


# Rows that mean the same as no row, by model, left out of both sides. The dashboard's figures
# are `value = value + delta` upserts (DynamoDB: `ADD v`) of a commit's summed deltas: a batch
# whose deltas of a figure sum to zero writes no row, so a figure that went +1 then -1 is a 0
# row when the two events came in two batches (the live worker) and no row when in one (a
# replay). Its reader takes a missing figure as 0.
def _zero_figure(row: Row) -> bool:
    (table, *_), fields = row
    if table != "dashboard_figures" or fields.get("doc") is not None:
        return False
    if "value" in fields:  # SQLite: a REAL column
        return fields["value"] == 0
    stored = fields.get("v")  # DynamoDB: the attribute's canonical JSON, {"N": "…"}
    return isinstance(stored, str) and Decimal(json.loads(stored)["N"]) == 0


NEUTRAL: dict[str, Callable[[Row], bool]] = {"dashboard": _zero_figure}


@dataclass(frozen=True)
class ModelReplay:
    name: str
    position: int  # the live checkpoint both sides were compared at
    comparison: Comparison


def replay_models(
    app: FleetApplication,
    settings: Settings,
    names: Sequence[str],
    progress: Progress | None = None,
    keep: Path | None = None,
) -> list[ModelReplay]:
    """Replay each of `names` (read models of `fleetwatch.wiring`) into scratch and compare.
    The bulk, up to each live checkpoint read first, reads the feed once per process for the
    models that process builds (`fleetwatch.replay_build.fan_out_split`). `keep`: a new
    directory the replayed models are copied to, `{name}.sqlite3` each, each at the live
    checkpoint it was compared at, whether it matched or not (a DIFF's replayed rows are there
    to be read)."""
    live = settings.read_models_path
    scratch = Path(tempfile.mkdtemp(prefix="replay-", dir=live.parent))
    try:
        with scratch_workers(app, scratch, names) as workers:
            tables = {name: model_tables(scratch / f"{name}.sqlite3") for name in names}
            first = {}
            for name, worker in workers.items():
                with snapshot(live, tables[name], worker.tracking_name) as current:
                    first[name] = current.checkpoint
            # outside the live read transactions; the models split between processes
            fan_out_split(app, settings, scratch, workers, first, progress=progress)
            results = [
                _compare(live, scratch / f"{name}.sqlite3", name, tables[name], workers[name])
                for name in names
            ]
        if keep is not None:
            keep.mkdir(parents=True)
            for name in names:
                copy_file(scratch / f"{name}.sqlite3", keep / f"{name}.sqlite3")
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compare(
    live: Path, path: Path, name: str, tables: Sequence[str], worker: BatchingProjectionWorker
) -> ModelReplay:
    """Inside the read transaction that streams the live rows, catch up to the checkpoint it
    sees (the live worker may have moved since the bulk) and compare."""
    with snapshot(live, tables, worker.tracking_name) as current:
        position = current.checkpoint
        worker.catch_up_to(position)
        with snapshot(path, tables, worker.tracking_name) as replayed:
            comparison = compare(kept(name, current.rows), kept(name, replayed.rows))
    return ModelReplay(name, position, comparison)


def kept(name: str, rows: Iterable[Row]) -> Iterable[Row]:
    """`rows` without the model's neutral rows (`NEUTRAL`)."""
    neutral = NEUTRAL.get(name)
    return rows if neutral is None else (row for row in rows if not neutral(row))


def reporting(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda position, up_to: progress(name, position, up_to)
