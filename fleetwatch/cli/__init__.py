"""The operators' command line: `fleetwatch serve | demo | token issue | dynamodb create-tables |
projections rebuild | events | replay | export | report | audit verify | user erase | mqtt`.
Bad input exits with code 2 and a one-line error, no traceback.

A package by command group: `serving` (the long-running processes), `stores` (tables, read
models, the feed), `admin` (tokens and credentials), `audit` (tamper evidence), `replay` (the
read models proven by a replay), `common` (what they share). `app` is the console script's
entry (`fleetwatch.cli:app`); commands are registered here, in the order `--help` lists them.
"""

from __future__ import annotations

import typer

from fleetwatch.cli.admin import credential_app, token_app, user_app
from fleetwatch.cli.audit import audit_app
from fleetwatch.cli.common import check_settings
from fleetwatch.cli.export import export, report
from fleetwatch.cli.mqtt import mqtt_app
from fleetwatch.cli.replay import replay
from fleetwatch.cli.serving import demo, ingest_app, serve, simulate
from fleetwatch.cli.stores import dynamodb_app, events, projections_app

__all__ = ["app"]

app = typer.Typer(help="Fleetwatch: IoT fleet monitoring backend.", no_args_is_help=True)
app.callback()(check_settings)  # before every command
app.command()(serve)
app.command()(events)
app.command()(replay)
app.command()(export)
app.command()(report)
app.command()(simulate)
app.command()(demo)
app.add_typer(token_app, name="token")
app.add_typer(dynamodb_app, name="dynamodb")
app.add_typer(projections_app, name="projections")
app.add_typer(ingest_app, name="ingest")
app.add_typer(credential_app, name="credential")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(mqtt_app, name="mqtt")
