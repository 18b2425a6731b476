"""The stage's Lambda functions, one role each, and what wakes them.

- `api`: `fleetwatch.lambdas.api_handler` (the HTTP API through Mangum);
- `ingest`: `fleetwatch.lambdas.iot_core_handler` (IoT Core rule events, or Kinesis batches);
- `websocket`: `fleetwatch.ws_gateway.websocket_handler` (the WebSocket API's routes);
- `projector`: `fleetwatch.lambdas.projector_handler` (the read models and the notifier),
  woken by the events table's stream (records never read: the handler reads the feed from
  its checkpoints) and by a schedule (EventBridge Scheduler, every `sweep_minutes`): the
  catch-up sweep that sets right a wake-up the stream lost;
- `processes`: `fleetwatch.lambdas.processes_handler` (alerting, the OTA orchestrator and its
  timers, the ledger, Parquet, the exporter), woken the same two ways (the stream's second
  and last reader: DynamoDB Streams serves two per shard); its sweep is also the alerting
  process's tick and the OTA timers' turn;
- `scheduled`: `fleetwatch.lambdas.scheduled_handler` (the outbox's notifications through
  the senders `Notify` names, offline detection), every minute;
- `jobs`: `fleetwatch.lambdas.iot_jobs_handler` (the devices' OTA job updates from the IoT
  rule, answered on their topics); `processes` publishes the job documents (`_grant_iot`).

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

from fleetwatch.wiring import LAMBDA_PROCESSES, LAMBDA_PROJECTOR
from infra.config import ACCESS, FEED_TABLE, Notify, Stage, writable
from infra.edges import IOT_ARN
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
    processes: Any
    scheduled: Any
    websocket: Any  # GraphQL subscriptions through API Gateway's WebSocket API
    jobs: Any  # the devices' job updates through IoT Core
    dead_letters: dict[str, Any]  # name -> sqs.Queue


def build_functions(
    scope: Any,
    stage: Stage,
    storage: Storage,
    asset: Path,
    *,
    environment: dict[str, str],
    notify: Notify,
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
        for name in ("ingest", "jobs", "projector", "processes", "sweep")
    }

    def function(name: str, handler: str, memory: int, timeout_s: int, **extra: str) -> Any:
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
            environment={**environment, **extra},
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
    memory = stage.projector_memory_mb
    projector = function(
        "projector",
        "fleetwatch.lambdas.projector_handler",
        memory,
        300,
        FLEETWATCH_PROJECTIONS=",".join(LAMBDA_PROJECTOR),
    )
    processes = function(
        "processes",
        "fleetwatch.lambdas.processes_handler",
        memory,
        900,  # an export runs for minutes
        FLEETWATCH_PROJECTIONS=",".join(LAMBDA_PROCESSES),
    )
    scheduled = function(
        "scheduled",
        "fleetwatch.lambdas.scheduled_handler",
        memory,
        120,
        **notify.environment(cdk.Aws.REGION),
    )
    websocket = function(
        "websocket", "fleetwatch.ws_gateway.websocket_handler", stage.api_memory_mb, 29
    )
    jobs = function("jobs", "fleetwatch.lambdas.iot_jobs_handler", stage.ingest_memory_mb, 30)
    _grant_iot(processes, "devices/*/jobs/notify")
    _grant_iot(jobs, "devices/*/jobs/*/update/accepted", "devices/*/jobs/*/update/rejected")
    storage.blobs.grant_read_write(api)
    storage.analytics.grant_read(api)
    storage.blobs.grant_read_write(processes)  # the exporter's files
    storage.analytics.grant_read_write(processes)  # Parquet's, read by exports too
    for fn in (api, projector, processes, scheduled, websocket):
        key.grant_encrypt_decrypt(fn)  # personal data keys (FLEETWATCH_PERSONAL_KEYS_KMS_KEY)
    _grant_senders(scope, notify, scheduled)
    for fn in (projector, processes):
        _wake(scope, stage, storage, fn, dead_letters)
    what = "Send the outbox's notifications; mark silent devices offline"
    _schedule(scope, "ScheduledWork", scheduled, dead_letters["sweep"], 1, what)
    return Functions(api, ingest, projector, processes, scheduled, websocket, jobs, dead_letters)


def _grant_iot(fn: Any, *topics: str) -> None:
    """IoT Core's Publish on `topics` (of the stage's account and region), and the lookup of
    the account's data endpoint (`describe`: IAM has no narrower resource for it)."""
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["iot:Publish"], resources=[f"{IOT_ARN}:topic/{t}" for t in topics]
        )
    )
    fn.add_to_role_policy(iam.PolicyStatement(actions=["iot:DescribeEndpoint"], resources=["*"]))


def _grant_tables(
    fn: Any, storage: Storage, reads: tuple[str, ...], writes: tuple[str, ...]
) -> None:
    for name, table in storage.tables.items():
        if writable(writes, name):
            table.grant_read_write_data(fn)
        elif writable(reads, name):
            table.grant_read_data(fn)


def _grant_senders(scope: Any, notify: Notify, fn: Any) -> None:
    """SES's SendEmail from the configured identity (the address's or its domain's), SNS's
    Publish for SMS (a phone number is no resource: IAM takes `*` for it, denied on topics)."""
    if "ses" in notify.senders:
        assert notify.ses_from is not None
        domain = notify.ses_from.rpartition("@")[2]
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[
                    cdk.Arn.format(
                        cdk.ArnComponents(service="ses", resource="identity", resource_name=n),
                        cdk.Stack.of(scope),
                    )
                    for n in dict.fromkeys((notify.ses_from, domain))
                ],
            )
        )
    if "sns" in notify.senders:
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]))
        fn.add_to_role_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=["sns:Publish"],
                resources=[
                    cdk.Arn.format(
                        cdk.ArnComponents(service="sns", resource="*"), cdk.Stack.of(scope)
                    )
                ],
            )
        )


def _wake(
    scope: Any, stage: Stage, storage: Storage, fn: Any, dead_letters: dict[str, Any]
) -> None:
    """The stream of the events table (a record wakes it; batches of up to 100 within a
    second, so a burst is one invocation; retried twice, never bisected: the records are not
    read, a retry is simply another wake-up), and the scheduled sweep."""
    name = fn.node.id.removesuffix("Function").lower()
    fn.add_event_source(
        sources.DynamoEventSource(
            storage.tables[FEED_TABLE],
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=100,
            max_batching_window=cdk.Duration.seconds(1),
            retry_attempts=2,
            bisect_batch_on_error=False,
            parallelization_factor=1,
            on_failure=sources.SqsDlq(dead_letters[name]),
        )
    )
    what = f"Catch the {name} function's workers up, whatever wake-up the stream lost"
    _schedule(scope, f"{name.title()}Sweep", fn, dead_letters["sweep"], stage.sweep_minutes, what)


def _schedule(  # noqa: PLR0917 - the schedule's parts, each once
    scope: Any, name: str, fn: Any, dead_letters: Any, minutes: int, description: str
) -> None:
    """EventBridge Scheduler invoking `fn` every `minutes`, through a role of its own that
    may only invoke it and send to the dead letters."""
    invoker = iam.Role(
        scope,
        f"{name}SchedulerRole",
        assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
        description=f"Fleetwatch: the scheduler invokes {fn.node.id} ({name})",
    )
    fn.grant_invoke(invoker)
    dead_letters.grant_send_messages(invoker)
    scheduler.CfnSchedule(
        scope,
        name,
        description=description,
        schedule_expression=_rate(minutes),
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        target=scheduler.CfnSchedule.TargetProperty(
            arn=fn.function_arn,
            role_arn=invoker.role_arn,
            input=json.dumps({"source": "fleetwatch.schedule"}),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_event_age_in_seconds=300, maximum_retry_attempts=2
            ),
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                arn=dead_letters.queue_arn
            ),
        ),
    )


def _rate(minutes: int) -> str:
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})"
