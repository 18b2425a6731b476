"""The operators' command line: `fleetwatch serve | demo | token issue | dynamodb create-tables |
projections rebuild | events`. Bad input exits with code 2 and a one-line error, no traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fleetwatch.bootstrap import PROJECTIONS, System, build_system
from fleetwatch.runtime import tune_gc
from fleetwatch.settings import DEV_JWT_SECRET, Settings

app = typer.Typer(help="Fleetwatch: IoT fleet monitoring backend.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the API.", no_args_is_help=True)
dynamodb_app = typer.Typer(help="DynamoDB tables.", no_args_is_help=True)
projections_app = typer.Typer(help="Read-model projections.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(dynamodb_app, name="dynamodb")
app.add_typer(projections_app, name="projections")
ingest_app = typer.Typer(help="Telemetry ingestion.", no_args_is_help=True)
credential_app = typer.Typer(help="Device credentials.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(credential_app, name="credential")

console = Console()
err = Console(stderr=True)

Role = Annotated[
    list[str],
    typer.Option("--role", "-r", help="Role (repeatable): viewer, operator, admin, auditor."),
]
ROLES = ("viewer", "operator", "admin", "auditor")


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _start(system: System) -> None:
    """`system.start()`; a setting it refuses (an unknown projection name) ends the command."""
    try:
        system.start()
    except ValueError as e:
        system.close()
        raise _fail(str(e)) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant of the printed dev token.")] = "demo",
) -> None:
    """Run the API (GraphQL, REST) and the projection workers."""
    import uvicorn

    from api.app import create_app
    from api.auth import issue_token

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    system = build_system(settings)
    tune_gc()
    _start(system)
    where = (
        f"SQLite file {settings.sqlite_path}"
        if settings.store == "sqlite"
        else f"DynamoDB tables {settings.dynamodb_table_prefix}*"
    )
    console.print(f"[bold]Fleetwatch[/] on {where}; fan-out: {settings.redis_url or 'in-process'}")
    console.print(f"GraphiQL:  http://{host}:{port}/graphql")
    console.print(f"REST docs: http://{host}:{port}/docs")
    if settings.jwt_secret == DEV_JWT_SECRET:
        token = issue_token(settings, "dev-admin", tenant, ["admin"], 24 * 3600)
        console.print(f"Dev token (tenant {tenant!r}, role admin, 24 h):")
        print(token)  # plain, so it can be copied whole
        console.print('GraphiQL headers: {"Authorization": "Bearer <token>"}')
    try:
        uvicorn.run(create_app(system), host=host, port=port, log_level="info")
    finally:
        system.close()


@token_app.command("issue")
def token_issue(
    tenant: Annotated[str, typer.Option(help="Tenant id carried by the token.")] = "demo",
    subject: Annotated[str, typer.Option(help="Subject (user id).")] = "dev-user",
    role: Role | None = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = 3600,
) -> None:
    """Print a development JWT (HS256 with FLEETWATCH_JWT_SECRET)."""
    from api.auth import issue_token

    roles = role or ["admin"]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise _fail(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    if not tenant.strip():
        raise _fail("--tenant must not be empty")
    print(issue_token(Settings(), subject, tenant, roles, ttl))


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
        client = system.views["device_status"].client  # type: ignore[attr-defined]
        names = [
            name
            for name in client.list_tables()["TableNames"]
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
        raise _fail(f"unknown projection {name!r}; choose from {', '.join(PROJECTIONS)}")
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
            count = system.rebuild(
                name, lambda position, _head: progress.update(task, completed=position)
            )
            progress.update(task, completed=max(head, 1))
        console.print(f"{name}: {count} events replayed up to position {head}")
    finally:
        system.close()


@projections_app.command("run")
def projections_run() -> None:
    """Run the projection workers, the alerting process manager and the notification
    dispatcher without the API (API processes then run with FLEETWATCH_RUN_PROJECTIONS=false).
    Also ingests MQTT when FLEETWATCH_MQTT_URL is set. Stops on Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings().model_copy(update={"run_projections": True})
    system = build_system(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    tune_gc()
    _start(system)
    running = settings.projection_names or list(system.workers)
    console.print(f"running: {', '.join(running)} (Ctrl-C to stop)")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        system.close()


@app.command()
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


@ingest_app.command("mqtt")
def ingest_mqtt(
    url: Annotated[str, typer.Option(help="Broker URL.")] = "mqtt://127.0.0.1:1883",
    client_id: Annotated[str, typer.Option(help="Stable id: the broker keeps its session.")] = (
        "fleetwatch-ingest"
    ),
) -> None:
    """Subscribe to devices/+/telemetry (QoS 1, shared subscription) until interrupted."""
    import time

    from ingestion.settings import IngestSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ingest = IngestSettings().model_copy(update={"mqtt_url": url, "mqtt_client_id": client_id})
    system = build_system(Settings(), ingest)
    tune_gc()
    _start(system)
    try:
        console.print(f"ingesting MQTT from {url} as {client_id!r}; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(10)
                assert system.ingest is not None
                console.print(json.dumps(system.ingest.handler.counters.snapshot()))
    finally:
        system.close()


@credential_app.command("issue")
def credential_issue(
    device_id: Annotated[str, typer.Argument(help="The device's id.")],
    tenant: Annotated[str, typer.Option(help="The device's tenant.")] = "demo",
) -> None:
    """Issue (or rotate) a device credential and print its token (shown once)."""
    from uuid import UUID

    from event_store.envelope import EventMetadata
    from write_side.credentials import IssueDeviceCredential
    from write_side.errors import DomainError

    try:
        command = IssueDeviceCredential(device_id=UUID(device_id))
    except ValueError:
        raise _fail(f"{device_id!r} is not a device id") from None
    system = build_system(Settings())
    try:
        issued = system.app.issue_device_credential(command, EventMetadata(tenant, "system:cli"))
    except DomainError as e:
        raise _fail(e.message) from None
    finally:
        system.close()
    print(issued.token)


@app.command()
def simulate(  # noqa: PLR0917 - typer options
    devices: Annotated[int, typer.Option(help="Devices to simulate.", min=1)] = 10,
    rate: Annotated[float, typer.Option(help="Messages per second, all devices.", min=0.1)] = 10,
    transport: Annotated[str, typer.Option(help="mqtt or http.")] = "mqtt",
    duration: Annotated[float | None, typer.Option(help="Seconds (default: forever).")] = None,
    url: Annotated[str | None, typer.Option(help="Broker or API base URL.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant of the simulated devices.")] = "demo",
    duplicate_ratio: Annotated[float, typer.Option(min=0, max=1)] = 0.02,
    bad_ratio: Annotated[float, typer.Option(min=0, max=1)] = 0.0,
    ingest_here: Annotated[
        bool, typer.Option(help="MQTT: also run the ingestor in this process.")
    ] = True,
) -> None:
    """Register (or reuse) simulated devices and send telemetry; prints rates every second."""
    from fleetwatch.simulate import simulate as run_simulation

    if transport not in ("mqtt", "http"):
        raise _fail("--transport must be mqtt or http")
    with contextlib.suppress(KeyboardInterrupt):
        run_simulation(
            devices=devices, rate=rate, transport=transport, duration=duration, url=url,
            tenant=tenant, duplicate_ratio=duplicate_ratio, bad_ratio=bad_ratio,
            ingest_here=ingest_here, echo=console.print,
        )  # fmt: skip


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="TCP port (default FLEETWATCH_PORT).")] = None,
    devices: Annotated[int, typer.Option(help="Simulated devices.", min=1, max=1000)] = 5,
    rate: Annotated[float, typer.Option(help="Messages per second.", min=0.1, max=1000)] = 10,
) -> None:
    """Serve the API with simulated devices raising alerts (tenant demo); print what to see."""
    from fleetwatch.demo import run_demo

    settings = Settings().model_copy(update={"run_projections": True})
    system = build_system(settings)
    tune_gc()
    _start(system)
    try:
        run_demo(system, port=port or settings.port, devices=devices, rate=rate)
    finally:
        system.close()
