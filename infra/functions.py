"""The stage's Lambda functions, one role each, and what wakes them.

- `api`: `fleetwatch.lambdas.api_handler` (the HTTP API through Mangum);
- `ingest`: `fleetwatch.lambdas.iot_core_handler` (IoT Core rule events, or Kinesis batches);
- `websocket`: `fleetwatch.ws_gateway.websocket_handler` (the WebSocket API's routes);
- `projector`: `fleetwatch.lambdas.projector_handler`, woken by the events table's stream
  (records never read: the handler reads the feed from its checkpoints) and by a schedule
  (EventBridge Scheduler, every `sweep_minutes`): the catch-up sweep that sets right a
  wake-up the stream lost.

The settings that are secrets (the audit checkpoints' key, derived from a seed Secrets Manager
generates) are in one secret, read by each function at its cold start (`FLEETWATCH_SECRETS`,
fleetwatch/secrets.py). Each function has its own role, granted what its code uses (`ACCESS`):
the API reads and writes every table; ingestion and the projector are measured by
tests/integration/test_infra_access.py against DynamoDB Local. Tracing is X-Ray (active), logs
go to a group per function with the stage's retention. Failed stream batches and schedule
invocations land in a dead-letter queue each (alarmed in `alarms.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

from infra.config import ACCESS, FEED_TABLE, Stage, writable
from infra.storage import Storage

_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    30: logs.RetentionDays.ONE_MONTH,
    365: logs.RetentionDays.ONE_YEAR,
}
RUNTIME_VERSION = "3.12"  # the Lambda runtime the asset is built for (scripts/package_lambda)


@dataclass(frozen=True)
class Functions:
    api: Any  # lambda_.Function
    ingest: Any
    projector: Any
    websocket: Any  # GraphQL subscriptions through API Gateway's WebSocket API
    dead_letters: dict[str, Any]  # name -> sqs.Queue


def build_functions(
    scope: Any, stage: Stage, storage: Storage, asset: Path, environment: dict[str, str]
) -> Functions:
    code = lambda_.Code.from_asset(str(asset))
    key = storage.key
    secret = secretsmanager.Secret(
        scope,
        "Secrets",
        description=f"Fleetwatch {stage.name}: settings that are secrets (fleetwatch/secrets.py)",
        encryption_key=key,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template="{}",
            generate_string_key="FLEETWATCH_AUDIT_SIGNING_SEED",
            password_length=64,
            exclude_punctuation=True,
        ),
        removal_policy=cdk.RemovalPolicy.RETAIN if stage.retain else cdk.RemovalPolicy.DESTROY,
    )
    environment = {**environment, "FLEETWATCH_SECRETS": secret.secret_arn}
    dead_letters = {
        name: sqs.Queue(
            scope,
            f"{name.title()}DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        for name in ("ingest", "projector", "sweep")
    }

    def function(name: str, handler: str, memory: int, timeout_s: int) -> Any:
        role = iam.Role(
            scope,
            f"{name.title()}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Fleetwatch {stage.name} {name} function",
        )
        log_group = logs.LogGroup(
            scope,
            f"{name.title()}Logs",
            retention=_RETENTION[stage.log_retention_days],
            removal_policy=cdk.RemovalPolicy.RETAIN if stage.retain else cdk.RemovalPolicy.DESTROY,
        )
        fn = lambda_.Function(
            scope,
            f"{name.title()}Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=code,
            memory_size=memory,
            timeout=cdk.Duration.seconds(timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            role=role,
            log_group=log_group,
        )
        role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AWSLambdaBasicExecutionRole"
            )
        )
        _grant_tables(fn, storage, *ACCESS[name])
        secret.grant_read(fn)
        return fn

    api = function("api", "fleetwatch.lambdas.api_handler", stage.api_memory_mb, 29)
    ingest = function("ingest", "fleetwatch.lambdas.iot_core_handler", stage.ingest_memory_mb, 60)
    projector = function(
        "projector", "fleetwatch.lambdas.projector_handler", stage.projector_memory_mb, 300
    )
    websocket = function(
        "websocket", "fleetwatch.ws_gateway.websocket_handler", stage.api_memory_mb, 29
    )
    storage.blobs.grant_read_write(api)
    storage.analytics.grant_read(api)
    storage.analytics.grant_read_write(projector)
    for fn in (api, projector, websocket):
        key.grant_encrypt_decrypt(fn)  # personal data keys (FLEETWATCH_PERSONAL_KEYS_KMS_KEY)
    _wake_projector(scope, stage, storage, projector, dead_letters)
    return Functions(api, ingest, projector, websocket, dead_letters)


def _grant_tables(
    fn: Any, storage: Storage, reads: tuple[str, ...], writes: tuple[str, ...]
) -> None:
    for name, table in storage.tables.items():
        if writable(writes, name):
            table.grant_read_write_data(fn)
        elif writable(reads, name):
            table.grant_read_data(fn)


def _wake_projector(
    scope: Any, stage: Stage, storage: Storage, projector: Any, dead_letters: dict[str, Any]
) -> None:
    """The stream of the events table (a record wakes it; batches of up to 100 within a
    second, so a burst is one invocation; retried twice, never bisected: the records are not
    read, a retry is simply another wake-up), and the scheduled sweep."""
    projector.add_event_source(
        sources.DynamoEventSource(
            storage.tables[FEED_TABLE],
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=100,
            max_batching_window=cdk.Duration.seconds(1),
            retry_attempts=2,
            bisect_batch_on_error=False,
            parallelization_factor=1,
            on_failure=sources.SqsDlq(dead_letters["projector"]),
        )
    )
    invoker = iam.Role(
        scope,
        "SweepSchedulerRole",
        assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
        description=f"Fleetwatch {stage.name}: the scheduler invokes the projector's sweep",
    )
    projector.grant_invoke(invoker)
    dead_letters["sweep"].grant_send_messages(invoker)
    scheduler.CfnSchedule(
        scope,
        "ProjectorSweep",
        description="Catch every projector up, whatever wake-up the stream lost",
        schedule_expression=_rate(stage.sweep_minutes),
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        target=scheduler.CfnSchedule.TargetProperty(
            arn=projector.function_arn,
            role_arn=invoker.role_arn,
            input=json.dumps({"source": "fleetwatch.sweep"}),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_event_age_in_seconds=300, maximum_retry_attempts=2
            ),
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                arn=dead_letters["sweep"].queue_arn
            ),
        ),
    )


def _rate(minutes: int) -> str:
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})"
