"""`fleetwatch replay`: rebuild read models into scratch and compare them with the live ones
(docs/audit.md section 19.6), on either store."""

from __future__ import annotations

import contextlib
import shlex
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from audit.replay import format_key
from fleetwatch.bootstrap import System, build_system
from fleetwatch.cli.common import err, fail
from fleetwatch.replay import ModelReplay, replay_models
from fleetwatch.replay_build import Progress as Report
from fleetwatch.replay_dynamodb import replay_models as replay_dynamodb
from fleetwatch.replay_dynamodb import replay_twice as replay_twice_dynamodb
from fleetwatch.replay_quiesce import quiesced
from fleetwatch.replay_to import BadPosition, replay_twice, resolve_to
from fleetwatch.runtime import tune_gc
from fleetwatch.settings import Settings
from fleetwatch.wiring import READ_MODELS

MODELS = tuple(model.name for model in READ_MODELS)


class EventsPerSecond(ProgressColumn):
    """The feed positions a model's bar moved per second (rich's estimate over 30 s)."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:,.0f} events/s")


def replay(
    models: Annotated[
        str | None, typer.Option(help=f"Comma-separated, of: {', '.join(MODELS)} (default all).")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="POSITION|TIME",
            help="Replay up to a past feed position, or the last event recorded at or before an "
            "ISO 8601 instant, twice, and compare the two replays (no live comparison).",
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Keep the replayed read models (with --to: the first replay, the models as of "
            "that position; without: each at the live checkpoint it was compared at, matched or "
            "not), SQLite: files in a new directory beside the read models, DynamoDB: tables "
            "under a new prefix; and print where.",
        ),
    ] = False,
    quiesce: Annotated[
        bool,
        typer.Option(
            "--quiesce",
            help="DynamoDB: hold each live model still while it is scanned, by taking its "
            "worker's lease (its commits are refused meanwhile; the lease is given back after). "
            "SQLite reads a snapshot and needs none.",
        ),
    ] = False,
) -> None:
    """Replay each read model's projection into a scratch store up to the live model's
    checkpoint and compare checksums: `OK <model> <sha256> @<position>` or `DIFF <model> first
    key <key>` per model; exit code 1 on any difference. With `--to`, each model is replayed
    twice up to that position and the two replays are compared instead."""
    names = MODELS if models is None else tuple(n.strip() for n in models.split(",") if n.strip())
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise fail(f"unknown read model {', '.join(unknown)!r}; choose from {', '.join(MODELS)}")
    settings = Settings()
    system = build_system(settings)
    tune_gc()  # a batch job allocating millions of short-lived objects (fleetwatch.runtime)
    try:
        with Progress(
            TextColumn("replaying {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            EventsPerSecond(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            tasks = {name: progress.add_task(name, total=None) for name in names}

            def report(name: str, position: int, up_to: int) -> None:
                progress.update(tasks[name], completed=position, total=max(up_to, 1))

            if to is not None:
                results, where = _replay_to(system, settings, names, to, report, keep=keep)
            else:
                run = f"replayed-{uuid.uuid4().hex[:8]}"
                if settings.store == "dynamodb":
                    pause = _quiesce(system, settings) if quiesce else None
                    prefix = f"{run}-" if keep else None
                    results = replay_dynamodb(
                        system.app, system.views, names, report, pause, keep=prefix
                    )
                    where = f"{settings.dynamodb_table_prefix}{prefix}"
                else:
                    folder = settings.read_models_path.parent / run if keep else None
                    results = replay_models(system.app, settings, names, report, keep=folder)
                    where = str(folder)
    finally:
        system.close()
    for result in results:
        comparison = result.comparison
        if comparison.equal:
            print(f"OK {result.name} {comparison.left} @{result.position}")
            continue
        assert comparison.first_key is not None
        print(f"DIFF {result.name} first key {format_key(comparison.first_key)}")
        left, right = ("first:", "second:") if to is not None else ("live:", "replayed:")
        err.print(f"  {left:<9} {comparison.left_row}", markup=False)
        err.print(f"  {right:<9} {comparison.right_row}", markup=False)
    if keep:
        what = f"as of @{results[0].position}" if to is not None else "replayed"
        dynamodb = settings.store == "dynamodb"
        shown = f"DynamoDB tables {where}*" if dynamodb else f"{where}/<model>.sqlite3"
        err.print(f"kept: the read models {what} in {shown}", markup=False, soft_wrap=True)
        command = f"browse them read only: fleetwatch serve --as-of {shlex.quote(where)}"
        err.print(command, markup=False, soft_wrap=True)
    if not all(result.comparison.equal for result in results):
        raise typer.Exit(code=1)


def _quiesce(
    system: System, settings: Settings
) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    """Each model's live worker held still by this run's lease while it is scanned."""
    owner = f"replay:{uuid.uuid4().hex[:8]}"

    def pause(name: str) -> contextlib.AbstractContextManager[None]:
        return quiesced(
            [system.workers[name]], owner, ttl=settings.lease_ttl, interval=settings.lease_interval
        )

    return pause


def _replay_to(
    system: System, settings: Settings, names: Sequence[str], to: str, report: Report,
    *, keep: bool,
) -> tuple[list[ModelReplay], str]:  # fmt: skip
    """`--to`: the results of the two replays, and where the kept one is (with `keep`: its
    directory, or its table prefix)."""
    try:
        position = resolve_to(system.app, to)
    except BadPosition as e:
        raise fail(str(e)) from None
    run = f"as-of-{position}-{uuid.uuid4().hex[:8]}"
    if settings.store == "dynamodb":
        prefix = f"{run}-" if keep else None
        results = replay_twice_dynamodb(
            system.app, system.views, names, position, progress=report, keep=prefix
        )
        return results, f"{settings.dynamodb_table_prefix}{prefix}"
    directory = settings.read_models_path.parent
    folder = directory / run if keep else None
    results = replay_twice(system.app, settings, names, position, progress=report, keep=folder)
    return results, str(folder)
