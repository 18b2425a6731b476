"""The commands about the stores: `dynamodb create-tables`, `projections rebuild | run`, `events`.

Apart from the other groups because these act on the event store and the read models (create
the tables, replay a projection, run the workers without the API, print the feed).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from event_store.leases import Lease
from fleetwatch.bootstrap import PROJECTIONS, build_system
from fleetwatch.cli.common import LOG_FORMAT, console, fail, start
from fleetwatch.lease_keeper import lease_of
from fleetwatch.runtime import tune_gc
from fleetwatch.settings import Settings
from fleetwatch.supervisor import LeaseHeld
from fleetwatch.wiring import make_tables_made_on_first_use

dynamodb_app = typer.Typer(help="DynamoDB tables.", no_args_is_help=True)
projections_app = typer.Typer(help="Read-model projections.", no_args_is_help=True)


@dynamodb_app.command("create-tables")
def dynamodb_create_tables(
    endpoint_url: Annotated[str | None, typer.Option(help="e.g. http://127.0.0.1:8000")] = None,
    prefix: Annotated[str | None, typer.Option(help="Table name prefix.")] = None,
) -> None:
    """Create the event-store and read-model tables (idempotent)."""
    updates: dict[str, object] = {"store": "dynamodb", "create_tables": True}
    if endpoint_url:
        updates["dynamodb_endpoint_url"] = endpoint_url
    if prefix:
        updates["dynamodb_table_prefix"] = prefix
    settings = Settings().model_copy(update=updates)
    system = build_system(settings)  # creates every missing table, waiting until ACTIVE
    try:
        make_tables_made_on_first_use(system.app, settings)
        client = system.views["device_status"].client  # type: ignore[attr-defined]
        pages = client.get_paginator("list_tables").paginate()  # 100 names a page
        names = [
            name
            for page in pages
            for name in page["TableNames"]
            if name.startswith(settings.dynamodb_table_prefix)
        ]
    finally:
        system.close()
    console.print(f"{len(names)} tables ready:")
    for name in sorted(names):
        print(name)


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(PROJECTIONS)}")],
) -> None:
    """Drop a read model and rebuild it from the start of the feed."""
    if name not in PROJECTIONS:
        raise fail(f"unknown projection {name!r}; choose from {', '.join(PROJECTIONS)}")
    system = build_system(Settings())
    try:
        head = system.event_log.head()
        with Progress(
            TextColumn(f"rebuilding {name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(name, total=max(head, 1))
            try:
                count = system.rebuild(
                    name, lambda position, _head: progress.update(task, completed=position)
                )
            except LeaseHeld as e:
                raise fail(str(e)) from e
            progress.update(task, completed=max(head, 1))
        console.print(f"{name}: {count} events replayed up to position {head}")
    finally:
        system.close()


@projections_app.command("run")
def projections_run() -> None:
    """Run the projection workers, the alerting process manager and the notification
    dispatcher without the API (API processes then run with FLEETWATCH_RUN_PROJECTIONS=false).
    Also ingests MQTT when FLEETWATCH_MQTT_URL is set. Stops on Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    settings = Settings().model_copy(update={"run_projections": True})
    system = build_system(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    tune_gc()
    start(system)
    wanted = settings.projection_names or list(system.workers)
    held = system.supervisor.running
    waiting = [name for name in wanted if name not in held]
    console.print(
        f"running: {', '.join(n for n in wanted if n in held) or 'none'} (Ctrl-C to stop)"
    )
    if waiting:  # leased by another process: taken here when it stops or dies
        console.print(f"standing by for: {', '.join(waiting)}")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        system.close()


@projections_app.command("status")
def projections_status() -> None:
    """Each worker's checkpoint and who runs it: the process holding its lease, the fencing
    token, and for how long the lease still runs (docs/projections.md 7.3)."""
    system = build_system(Settings())
    try:
        now = time.time()
        head = system.event_log.head()
        print(f"feed head: {head}")
        for name, worker in system.workers.items():
            print(
                f"{name:<14} checkpoint {worker.checkpoint():>10}  {_holder(lease_of(worker), now)}"
            )
    finally:
        system.close()


def _holder(lease: Lease | None, now: float) -> str:
    """Who runs a worker, for `projections status`."""
    if lease is None:
        return "not held"
    left = lease.expires_at - now
    term = f"for {left:.1f} s" if left > 0 else f"expired {-left:.1f} s ago"
    return f"{lease.owner} token {lease.token} {term}"


def events(
    after: Annotated[int, typer.Option(help="Feed position to start after.", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="At most this many events.", min=1)] = 50,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
) -> None:
    """Print recorded events from the ordered feed (JSON lines), for auditors."""
    system = build_system(Settings())
    try:
        for envelope in system.event_log.read_feed(after=after, limit=limit, tenant_id=tenant):
            print(json.dumps(_jsonable(envelope.__dict__), default=str))
    finally:
        system.close()


def _jsonable(data: dict[str, object]) -> dict[str, object]:
    return {key: str(value) if key in {"event_id"} else value for key, value in data.items()}
