"""The commands that run Fleetwatch: `serve`, `demo`, `simulate` and `ingest mqtt`.

Apart from the other groups because these are the long-running processes (they tune the garbage
collector, log at INFO and stop on Ctrl-C); the one-shot administration commands are in
`fleetwatch.cli.admin` and `fleetwatch.cli.stores`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Annotated

import typer

from fleetwatch.as_of import KeptModelMissing, kept_where
from fleetwatch.bootstrap import build_system
from fleetwatch.cli.common import LOG_FORMAT, console, fail, start
from fleetwatch.runtime import tune_gc
from fleetwatch.settings import DEV_JWT_SECRET, Settings

ingest_app = typer.Typer(help="Telemetry ingestion.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant of the printed dev token.")] = "demo",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="WHERE",
            help="Serve the read models `fleetwatch replay --keep` kept, read only (WHERE as it "
            "printed: SQLite, the directory; DynamoDB, the table prefix): no worker runs, "
            "nothing is ingested, every command is refused with READ_ONLY.",
        ),
    ] = None,
) -> None:
    """Run the API (GraphQL, REST) and the projection workers."""
    import uvicorn

    from api.app import create_app
    from api.auth import issue_token
    from api.graphql.frames import server_options

    settings = Settings()
    if as_of is not None:
        settings = settings.model_copy(update={"as_of_read_models": kept_where(as_of)})
    host = host or settings.host
    port = port or settings.port
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        system = build_system(settings)
    except KeptModelMissing as e:
        raise fail(str(e)) from None
    tune_gc()
    start(system)
    where = (
        f"SQLite file {settings.sqlite_path}"
        if settings.store == "sqlite"
        else f"DynamoDB tables {settings.dynamodb_table_prefix}*"
    )
    console.print(f"[bold]Fleetwatch[/] on {where}; fan-out: {settings.redis_url or 'in-process'}")
    if settings.as_of_read_models:
        console.print(f"read only: the read models kept in {settings.as_of_read_models}")
    console.print(f"GraphiQL:  http://{host}:{port}/graphql")
    console.print(f"REST docs: http://{host}:{port}/docs")
    if settings.jwt_secret == DEV_JWT_SECRET:
        token = issue_token(settings, "dev-admin", tenant, ["admin"], 24 * 3600)
        console.print(f"Dev token (tenant {tenant!r}, role admin, 24 h):")
        print(token)  # plain, so it can be copied whole
        console.print('GraphiQL headers: {"Authorization": "Bearer <token>"}')
    try:
        uvicorn.run(
            create_app(system), host=host, port=port, log_level="info",
            **server_options(settings.ws_compression, settings.subscription_frames),
        )  # fmt: skip
    finally:
        system.close()


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
    jobs: Annotated[
        bool, typer.Option(help="The devices also take OTA jobs (poll, MQTT notify).")
    ] = False,
    api_url: Annotated[
        str | None, typer.Option(help="--jobs: the API for jobs and images (default :8000).")
    ] = None,
    firmware_version: Annotated[str, typer.Option(help="--jobs: version before a job.")] = "1.0.0",
    p_fail: Annotated[
        float, typer.Option("--fail", help="--jobs: P(a job fails).", min=0, max=1)
    ] = 0.0,
    p_stall: Annotated[
        float, typer.Option("--stall", help="--jobs: P(stops reporting).", min=0, max=1)
    ] = 0.0,
    p_reject: Annotated[
        float, typer.Option("--reject", help="--jobs: P(rejects a job).", min=0, max=1)
    ] = 0.0,
    p_rollback: Annotated[
        float,
        typer.Option("--rollback", help="--jobs: P(says done, keeps its version).", min=0, max=1),
    ] = 0.0,
) -> None:
    """Register (or reuse) simulated devices and send telemetry; prints rates every second.
    With --jobs they also take OTA jobs (docs/firmware.md 12.5)."""
    from fleetwatch.simulate import simulate as run_simulation
    from fleetwatch.simulate_jobs import Faults

    if transport not in ("mqtt", "http"):
        raise fail("--transport must be mqtt or http")
    with contextlib.suppress(KeyboardInterrupt):
        run_simulation(
            devices=devices, rate=rate, transport=transport, duration=duration, url=url,
            tenant=tenant, duplicate_ratio=duplicate_ratio, bad_ratio=bad_ratio,
            ingest_here=ingest_here, echo=console.print, api_url=api_url,
            jobs=Faults(p_reject, p_fail, p_stall, p_rollback) if jobs else None,
            firmware_version=firmware_version,
        )  # fmt: skip


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
    start(system)
    try:
        run_demo(system, port=port or settings.port, devices=devices, rate=rate)
    finally:
        system.close()


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

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    ingest = IngestSettings().model_copy(update={"mqtt_url": url, "mqtt_client_id": client_id})
    system = build_system(Settings(), ingest)
    tune_gc()
    start(system)
    try:
        console.print(f"ingesting MQTT from {url} as {client_id!r}; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(10)
                assert system.ingest is not None
                console.print(json.dumps(system.ingest.handler.counters.snapshot()))
    finally:
        system.close()


@ingest_app.command("end-session")
def ingest_end_session(
    client_id: Annotated[str, typer.Option(help="The stopped subscriber's client id.")],
    url: Annotated[str, typer.Option(help="Broker URL.")] = "mqtt://127.0.0.1:1883",
) -> None:
    """End the broker sessions of an ingestion process stopped for good (its client id and
    `<id>-jobs`): while they exist the broker queues their share of the devices' messages for
    them (up to an hour). Exit code 1 when the broker did not answer."""
    from ingestion.mqtt_session import end_session
    from ingestion.settings import IngestSettings

    tls = IngestSettings().mqtt_tls()  # an mqtts:// broker: the process's own certificate
    for name in (client_id, f"{client_id}-jobs"):
        if not end_session(url, name, tls=tls):
            console.print(f"the broker at {url} did not accept the connection")
            raise typer.Exit(1)
        console.print(f"ended the session of {name!r}")
