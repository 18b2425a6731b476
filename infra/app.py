"""The CDK app: `python -m infra.app` (what `cdk.json` runs), one stack per stage.

Context (`cdk synth -c key=value`): `stage` (dev, staging or prod; default: all three),
`asset` (the Lambda code: a directory `scripts/package_lambda` built; default
`build/lambda`), `notifySenders` and `sesFrom` (`infra.config.Notify`), `telemetryWindow`
(seconds the Kinesis mapping gathers telemetry, `Stage.telemetry_window_s`), and `emulator`: the
base URL of a local emulator the stack is deployed to (`scripts/local_deploy`), which serves
the pool's keys and the WebSocket API's `@connections` under its own address and evaluates no
metric math (the throttling alarms are left out). Nothing is looked up in an account at
synth time: the stacks are environment-agnostic, and `cdk deploy` with the credentials of the
target account puts them there (README, "Deploy to AWS").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.alarms import build_alarms
from infra.config import (
    STAGES,
    Notify,
    Stage,
    emulator_url,
    function_environment,
    stage,
    telemetry_window,
)
from infra.edges import build_http_api, build_iot, build_users, build_websocket_api
from infra.functions import build_functions
from infra.storage import build_storage

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSET = ROOT / "build" / "lambda"


def build_stack(
    app: Any, which: Stage, asset: Path, notify: Notify, emulator: str | None = None
) -> Any:
    stack = cdk.Stack(
        app,
        which.stack_name,
        description=f"Fleetwatch IoT fleet monitoring, stage {which.name}",
        termination_protection=which.retain,
    )
    cdk.Tags.of(stack).add("fleetwatch:stage", which.name)
    storage = build_storage(stack, which)
    users = build_users(stack, which)
    environment = function_environment(
        which,
        region=cdk.Aws.REGION,
        user_pool_id=users.pool.user_pool_id,
        user_pool_client_id=users.client.user_pool_client_id,
        blob_bucket=storage.blobs.bucket_name,
        analytics_bucket=storage.analytics.bucket_name,
        kms_key_arn=storage.key.key_arn,
        emulator=emulator,
    )
    functions = build_functions(
        stack, which, storage, asset, environment=environment, notify=notify
    )
    http_api = build_http_api(stack, which, users, functions.api)
    ws_stage = build_websocket_api(
        stack, which, functions.websocket, functions.projector, emulator=emulator
    )
    build_iot(
        stack,
        which,
        functions.ingest,
        functions.jobs,
        functions.dead_letters,
        storage.key,
    )
    build_alarms(
        stack,
        which,
        functions={
            "api": functions.api,
            "ingest": functions.ingest,
            "projector": functions.projector,
            "processes": functions.processes,
            "scheduled": functions.scheduled,
            "websocket": functions.websocket,
            "jobs": functions.jobs,
        },
        http_api=http_api,
        tables=storage.tables,
        dead_letters=functions.dead_letters,
        key=storage.key,
        emulated=emulator is not None,
    )
    cdk.CfnOutput(stack, "HttpApiUrl", value=http_api.api_endpoint)
    cdk.CfnOutput(stack, "WebSocketUrl", value=ws_stage.url)
    cdk.CfnOutput(stack, "UserPoolId", value=users.pool.user_pool_id)
    cdk.CfnOutput(stack, "UserPoolClientId", value=users.client.user_pool_client_id)
    return stack


def build_app(outdir: str | None = None, context: dict[str, str] | None = None) -> Any:
    app = cdk.App(outdir=outdir, context=context)
    name = app.node.try_get_context("stage")
    names = [str(name)] if name else list(STAGES)
    asset = Path(str(app.node.try_get_context("asset") or DEFAULT_ASSET))
    if not asset.is_dir():
        raise SystemExit(f"no Lambda asset at {asset}: run scripts/package_lambda first")
    try:
        notify = Notify.parse(
            app.node.try_get_context("notifySenders"), app.node.try_get_context("sesFrom")
        )
        emulator = emulator_url(app.node.try_get_context("emulator"))
        window = telemetry_window(app.node.try_get_context("telemetryWindow"))
    except ValueError as e:
        raise SystemExit(f"context: {e}") from None
    for each in names:
        which = stage(each)
        if window is not None:
            which = replace(which, telemetry_window_s=window)
        build_stack(app, which, asset, notify, emulator)
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
