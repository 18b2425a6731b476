"""Where the world reaches the stage: the HTTP API (people, through Cognito; devices, with
their own tokens), and IoT Core (devices with X.509 certificates).

HTTP API (API Gateway v2) -> the `api` function (Mangum). Every route needs a Cognito ID token
(the JWT authorizer: issuer the stage's user pool, audience its app client; the function checks
the token again against the pool's JWKS) except the devices' routes, which the function
authenticates by device token (`Authorization: Device ...`) or presigned URL, and `/health`.
GraphQL queries and mutations work over it; subscriptions go through the WebSocket API
(`build_websocket_api`, fleetwatch/ws_gateway.py).

IoT Core: the rule `SELECT *, topic(2) AS device_id, clientid() AS client_id FROM
'devices/+/telemetry'` (ingestion/iot_core.py) invokes the `ingest` function per message, or,
where the stage says so, writes to a Kinesis stream (partition key the device) that the
function reads in batches, reporting the records it could not commit (`batchItemFailures`)
and bisecting a failing batch; a record that still fails lands in the dead letters. The
rule `JOBS_RULE_SQL` (ingestion/iot_jobs.py) invokes the `jobs` function per OTA job update a
device publishes on `devices/{device}/jobs/{execution}/update`; it answers on that topic plus
`/accepted` or `/rejected`, and the processes function publishes job documents to
`devices/{device}/jobs/notify` (ota/iot_jobs.py). The devices' IoT policy lets a thing connect
only as itself (client id = thing name `{tenant}_{device id}`), publish only on its own
telemetry and job-update topics (the thing's `device_id` attribute), and subscribe to and
receive only its own job topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from infra.config import DEVICE_ROUTES, ROLES, Stage
from ingestion.iot_core import RULE_SQL
from ingestion.iot_jobs import JOBS_RULE_SQL

TELEMETRY_SQL = RULE_SQL  # the rule whose events ingestion/iot_core.py reads
# IoT Core's resources in the stage's account and region (`:topic/...`, `:topicfilter/...`).
IOT_ARN = f"arn:{cdk.Aws.PARTITION}:iot:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"


@dataclass(frozen=True)
class Users:
    pool: Any  # cognito.UserPool
    client: Any  # cognito.UserPoolClient


def build_users(scope: Any, stage: Stage) -> Users:
    """The stage's Cognito user pool: no self sign-up (admins invite), sign-in by email, a
    tenant per user (`custom:tenant_id`, immutable), groups for the roles."""
    pool = cognito.UserPool(
        scope,
        "Users",
        self_sign_up_enabled=False,
        sign_in_aliases=cognito.SignInAliases(email=True),
        custom_attributes={"tenant_id": cognito.StringAttribute(mutable=False)},
        password_policy=cognito.PasswordPolicy(min_length=12),
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        removal_policy=cdk.RemovalPolicy.RETAIN if stage.retain else cdk.RemovalPolicy.DESTROY,
    )
    client = pool.add_client(
        "Frontend",
        auth_flows=cognito.AuthFlow(user_srp=True),
        prevent_user_existence_errors=True,
        generate_secret=False,
    )
    for role in ROLES:
        cognito.CfnUserPoolGroup(
            scope, f"Group{role.title()}", user_pool_id=pool.user_pool_id, group_name=role
        )
    return Users(pool, client)


def build_http_api(scope: Any, stage: Stage, users: Users, api_function: Any) -> Any:
    integration = integrations.HttpLambdaIntegration("Api", api_function)
    authorizer = authorizers.HttpUserPoolAuthorizer(
        "Cognito", users.pool, user_pool_clients=[users.client]
    )
    api = apigw.HttpApi(
        scope,
        "HttpApi",
        api_name=f"fleetwatch-{stage.name}",
        default_integration=integration,
        default_authorizer=authorizer,
        create_default_stage=True,
    )
    for path, method in DEVICE_ROUTES:
        api.add_routes(
            path=path,
            methods=[apigw.HttpMethod(method)],
            integration=integration,
            authorizer=apigw.HttpNoneAuthorizer(),
        )
    return api


def build_websocket_api(
    scope: Any, stage: Stage, websocket: Any, projector: Any, *, emulator: str | None = None
) -> Any:
    """The GraphQL WebSocket API (graphql-transport-ws): `$connect`, `$disconnect` and every
    message to the `websocket` function; the projector posts changes to its connections
    (`FLEETWATCH_WS_GATEWAY_ENDPOINT`). Both may manage its connections. Returns its stage."""
    integration = integrations.WebSocketLambdaIntegration("Subscriptions", websocket)
    api = apigw.WebSocketApi(
        scope,
        "WebSocketApi",
        api_name=f"fleetwatch-{stage.name}-subscriptions",
        connect_route_options=apigw.WebSocketRouteOptions(integration=integration),
        disconnect_route_options=apigw.WebSocketRouteOptions(integration=integration),
        default_route_options=apigw.WebSocketRouteOptions(integration=integration),
    )
    ws_stage = apigw.WebSocketStage(
        scope, "WebSocketStage", web_socket_api=api, stage_name=stage.name, auto_deploy=True
    )
    for fn in (websocket, projector):
        ws_stage.grant_management_api_access(fn)
    if emulator is None:
        projector.add_environment("FLEETWATCH_WS_GATEWAY_ENDPOINT", ws_stage.callback_url)
    else:  # the emulator's @connections: under its own address, not the API's domain
        local = f"{emulator}/_aws/execute-api/{api.api_id}/{stage.name}"
        for fn in (websocket, projector):
            fn.add_environment("FLEETWATCH_WS_GATEWAY_ENDPOINT", local)
    return ws_stage


# Records a Kinesis invocation takes at most (the mapping's limit). With a window of W seconds a
# device sending once a second has W messages in a batch, stored as one event: the feed's
# commits fall W-fold (docs/event-store.md 6.5, bench/kinesis_batch.py).
KINESIS_BATCH = 10_000


def build_iot(  # noqa: PLR0917 - the stage's IoT parts, each once
    scope: Any, stage: Stage, ingest: Any, jobs: Any, dead_letters: dict[str, Any], key: Any
) -> Any:
    """The telemetry rule (to the function, or through Kinesis) and the job updates' rule (to
    the jobs function), with their error action, and the devices' policy. A rule's invocation
    of a function is asynchronous: retried twice, then sent to the function's dead letters.
    Returns the Kinesis stream, or None."""
    rule_role = iam.Role(
        scope,
        "IotRuleRole",
        assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
        description=f"Fleetwatch {stage.name}: the telemetry rule's actions",
    )
    rule_errors = sqs.Queue(
        scope,
        "IotRuleErrors",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
    rule_errors.grant_send_messages(rule_role)
    stream = None
    if stage.telemetry_via_kinesis:
        stream = kinesis.Stream(
            scope,
            "Telemetry",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            retention_period=cdk.Duration.hours(24),
        )
        stream.grant_write(rule_role)
        action = iot.CfnTopicRule.ActionProperty(
            kinesis=iot.CfnTopicRule.KinesisActionProperty(
                stream_name=stream.stream_name,
                role_arn=rule_role.role_arn,
                partition_key="${topic(2)}",
            )
        )
        ingest.add_event_source(
            sources.KinesisEventSource(
                stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=KINESIS_BATCH,
                max_batching_window=cdk.Duration.seconds(stage.telemetry_window_s),
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=5,
                on_failure=sources.SqsDlq(dead_letters["ingest"]),
            )
        )
    else:
        action = iot.CfnTopicRule.ActionProperty(
            lambda_=iot.CfnTopicRule.LambdaActionProperty(function_arn=ingest.function_arn)
        )
    errors = iot.CfnTopicRule.ActionProperty(
        sqs=iot.CfnTopicRule.SqsActionProperty(
            queue_url=rule_errors.queue_url, role_arn=rule_role.role_arn
        )
    )
    rule = _rule(scope, "TelemetryRule", TELEMETRY_SQL, action, errors)
    if stream is None:
        _invoked_by(ingest, "IotInvoke", rule, dead_letters["ingest"])
    to_jobs = iot.CfnTopicRule.ActionProperty(
        lambda_=iot.CfnTopicRule.LambdaActionProperty(function_arn=jobs.function_arn)
    )
    jobs_rule = _rule(scope, "JobUpdatesRule", JOBS_RULE_SQL, to_jobs, errors)
    _invoked_by(jobs, "IotJobsInvoke", jobs_rule, dead_letters["jobs"])
    _device_policy(scope)
    return stream


def _rule(scope: Any, name: str, sql: str, action: Any, errors: Any) -> Any:
    """A topic rule of `sql` (IoT SQL 2016-03-23) to `action`, its failures to `errors`."""
    return iot.CfnTopicRule(
        scope,
        name,
        topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
            sql=sql,
            aws_iot_sql_version="2016-03-23",
            rule_disabled=False,
            actions=[action],
            error_action=errors,
        ),
    )


def _invoked_by(fn: Any, name: str, rule: Any, dead_letters: Any) -> None:
    """`rule` may invoke `fn`; an event that still fails after Lambda's two retries (within an
    hour) goes to `dead_letters`, alarmed, instead of being dropped."""
    fn.add_permission(
        name,
        principal=iam.ServicePrincipal("iot.amazonaws.com"),
        source_arn=rule.attr_arn,
        source_account=cdk.Aws.ACCOUNT_ID,
    )
    fn.configure_async_invoke(
        retry_attempts=2,
        max_event_age=cdk.Duration.hours(1),
        on_failure=destinations.SqsDestination(dead_letters),
    )


def _device_policy(scope: Any) -> None:
    arn = IOT_ARN
    device = "${iot:Connection.Thing.Attributes[device_id]}"
    iot.CfnPolicy(
        scope,
        "DevicePolicy",
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"{arn}:client/${{iot:Connection.Thing.ThingName}}",
                    "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": [
                        f"{arn}:topic/devices/{device}/telemetry",
                        f"{arn}:topic/devices/{device}/jobs/*/update",
                    ],
                },
                {  # any filter under its own jobs (an execution's answers, or `+`); what it
                    # may receive is the next statement's
                    "Effect": "Allow",
                    "Action": "iot:Subscribe",
                    "Resource": [f"{arn}:topicfilter/devices/{device}/jobs/*"],
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Receive",
                    "Resource": [
                        f"{arn}:topic/devices/{device}/jobs/notify",
                        f"{arn}:topic/devices/{device}/jobs/*/update/accepted",
                        f"{arn}:topic/devices/{device}/jobs/*/update/rejected",
                    ],
                },
            ],
        },
    )
