"""The synthesised stacks (issue 15 items 1 and 2): linted, and checked resource by resource with
`aws_cdk.assertions` and the template's JSON."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.config import (
    ACCESS,
    DEVICE_ROUTES,
    FEED_TABLE,
    NOT_READ_MODELS,
    ROLES,
    TTL_ATTRIBUTES,
    stage,
    table_specs,
    writable,
)
from ingestion.iot_core import RULE_SQL
from ingestion.iot_jobs import JOBS_RULE_SQL

from .conftest import ROOT, SES_FROM, STAGES

STAGE_PARAMS = pytest.mark.parametrize("name", STAGES)
HANDLERS = {  # each function's, by its name in `ACCESS`
    "api": "fleetwatch.lambdas.api_handler",
    "ingest": "fleetwatch.lambdas.iot_core_handler",
    "projector": "fleetwatch.lambdas.projector_handler",
    "processes": "fleetwatch.lambdas.processes_handler",
    "scheduled": "fleetwatch.lambdas.scheduled_handler",
    "websocket": "fleetwatch.ws_gateway.websocket_handler",
    "jobs": "fleetwatch.lambdas.iot_jobs_handler",
}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def function_id(template: dict[str, Any], handler: str) -> str:
    [found] = [
        k
        for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == handler
    ]
    return found


def test_cfn_lint_passes_every_stage(cdk_out: Path) -> None:
    """cfn-lint's rules (the resource specification, properties, references) on the three
    templates. W3005 is ignored: CDK adds a DependsOn on a role the function's GetAtt already
    orders, which cfn-lint calls redundant."""
    files = sorted(str(p) for p in cdk_out.glob("*.template.json"))
    assert len(files) == 3
    lint = ROOT / ".venv" / "bin" / "cfn-lint"
    done = subprocess.run(
        [str(lint), "--ignore-checks", "W3005", "--", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_synthesised_without_account_or_region_lookups(cdk_out: Path) -> None:
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    assert not manifest.get("missing"), "a context lookup needs an account"
    for name in STAGES:
        artifact = manifest["artifacts"][f"Fleetwatch-{name}"]
        assert artifact["environment"] == "aws://unknown-account/unknown-region"
        text = (cdk_out / f"Fleetwatch-{name}.template.json").read_text()
        assert not re.search(r"\b\d{12}\b", text), "an account id is written in the template"


@STAGE_PARAMS
def test_every_table_the_code_makes_is_deployed_protected_and_encrypted(
    templates: dict[str, dict[str, Any]], name: str
) -> None:
    template, which = templates[name], stage(name)
    tables = {
        v["Properties"]["TableName"]: v
        for v in resources(template, "AWS::DynamoDB::Table").values()
    }
    specs = table_specs()
    assert sorted(tables) == sorted(f"{which.table_prefix}{s['TableName']}" for s in specs)
    for spec in specs:
        table = tables[f"{which.table_prefix}{spec['TableName']}"]
        props = table["Properties"]
        assert props["KeySchema"] == spec["KeySchema"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["SSESpecification"]["SSEType"] == "KMS"
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert sorted(indexes) == sorted(
            i["IndexName"] for i in spec.get("GlobalSecondaryIndexes", [])
        )
        for index in spec.get("GlobalSecondaryIndexes", []):
            assert indexes[index["IndexName"]]["KeySchema"] == index["KeySchema"]
        streamed = spec["TableName"] == FEED_TABLE
        assert ("StreamSpecification" in props) == streamed
        assert table["DeletionPolicy"] == ("Retain" if which.retain else "Delete")
        assert props.get("DeletionProtectionEnabled", False) is which.retain


def test_the_feed_streams_keys_only_to_the_projector(templates: dict[str, dict[str, Any]]) -> None:
    from aws_cdk.assertions import Match, Template  # here: it starts jsii (Node.js)

    for name in STAGES:
        template = Template.from_json(templates[name])
        template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "TableName": f"{stage(name).table_prefix}{FEED_TABLE}",
                "StreamSpecification": {"StreamViewType": "KEYS_ONLY"},
            },
        )
        for handler in FEED_HANDLERS:  # the stream's two readers, its limit per shard
            template.has_resource_properties(
                "AWS::Lambda::EventSourceMapping",
                {
                    "FunctionName": {"Ref": function_id(templates[name], handler)},
                    "EventSourceArn": Match.any_value(),
                    "StartingPosition": "LATEST",
                    "BatchSize": 100,
                    "MaximumBatchingWindowInSeconds": 1,
                    "MaximumRetryAttempts": 2,
                    "BisectBatchOnFunctionError": False,
                    "ParallelizationFactor": 1,
                    "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
                },
            )
        streamed = [
            m
            for m in resources(templates[name], "AWS::Lambda::EventSourceMapping").values()
            if "DynamoDB" in json.dumps(m["Properties"]["EventSourceArn"])
            or "StreamArn" in json.dumps(m["Properties"]["EventSourceArn"])
        ]
        assert len(streamed) == 2


FEED_HANDLERS = ("fleetwatch.lambdas.projector_handler", "fleetwatch.lambdas.processes_handler")


def test_schedules_sweep_the_feed_functions_and_run_the_clock_work(
    templates: dict[str, dict[str, Any]],
) -> None:
    """Every minute: each feed function's sweep (its catch-up; the alerting tick and the OTA
    timers for the processes function) and the scheduled function (notifications, offline).
    Each through a role that may invoke its function and send to the dead letters only."""
    template = templates["dev"]
    schedules = resources(template, "AWS::Scheduler::Schedule").values()
    targets = {s["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0]: s["Properties"]
               for s in schedules}  # fmt: skip
    handlers = (*FEED_HANDLERS, "fleetwatch.lambdas.scheduled_handler")
    assert set(targets) == {function_id(template, h) for h in handlers}
    for function, props in targets.items():
        assert props["ScheduleExpression"] == "rate(1 minute)"
        assert "DeadLetterConfig" in props["Target"]
        role = props["Target"]["RoleArn"]["Fn::GetAtt"][0]
        actions = _role_actions(template, role)
        assert actions <= {"lambda:InvokeFunction", "sqs:SendMessage", "sqs:GetQueueAttributes",
                           "sqs:GetQueueUrl", "kms:Decrypt", "kms:Encrypt",
                           "kms:ReEncrypt*", "kms:GenerateDataKey*"}, actions  # fmt: skip
        statements = _policies_of(template, role)
        invoked = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
        assert invoked
        assert all(function in json.dumps(s["Resource"]) for s in invoked)


def test_the_scheduled_function_sends_through_ses_and_sns_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["prod"]
    scheduled = _function(template, "fleetwatch.lambdas.scheduled_handler")
    env = scheduled["Environment"]["Variables"]
    assert (env["FLEETWATCH_NOTIFY_SENDERS"], env["FLEETWATCH_SES_FROM"]) == ("ses,sns", SES_FROM)
    role = scheduled["Role"]["Fn::GetAtt"][0]
    ses = [s for s in _policies_of(template, role) if "ses:SendEmail" in s["Action"]]
    [statement] = ses
    resources_text = json.dumps(statement["Resource"])
    assert f"identity/{SES_FROM}" in resources_text
    assert "identity/fleet.example" in resources_text
    sns = [s for s in _policies_of(template, role) if "sns:Publish" in json.dumps(s["Action"])]
    assert sorted(s["Effect"] for s in sns) == ["Allow", "Deny"]  # phone numbers, no topic
    [deny] = [s for s in sns if s["Effect"] == "Deny"]
    assert ":sns:" in json.dumps(deny["Resource"])
    for handler in ("fleetwatch.lambdas.api_handler", *FEED_HANDLERS):
        other = _function(template, handler)["Role"]["Fn::GetAtt"][0]
        actions = _role_actions(template, other)
        assert not any(a.startswith(("ses:", "sns:")) for a in actions), handler


def test_telemetry_goes_through_kinesis_where_the_stage_says(
    templates: dict[str, dict[str, Any]],
) -> None:
    from aws_cdk.assertions import Match, Template

    for name in STAGES:
        template = templates[name]
        rules = resources(template, "AWS::IoT::TopicRule").values()
        [payload] = [r["Properties"]["TopicRulePayload"] for r in rules
                     if r["Properties"]["TopicRulePayload"]["Sql"] == RULE_SQL]  # fmt: skip
        assert "Sqs" in payload["ErrorAction"]
        [action] = payload["Actions"]
        ingest = function_id(template, "fleetwatch.lambdas.iot_core_handler")
        mappings = [
            m["Properties"]
            for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
            if m["Properties"]["FunctionName"] == {"Ref": ingest}
        ]
        if stage(name).telemetry_via_kinesis:
            assert action["Kinesis"]["PartitionKey"] == "${topic(2)}"
            [mapping] = mappings
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            # a device's messages of the window in one event (bench/kinesis_batch.py)
            assert mapping["BatchSize"] == 10_000
            assert mapping["MaximumBatchingWindowInSeconds"] == stage(name).telemetry_window_s
            assert mapping["BisectBatchOnFunctionError"] is True
            assert "OnFailure" in mapping["DestinationConfig"]
            assert len(resources(template, "AWS::Kinesis::Stream")) == 1
        else:
            assert action["Lambda"]["FunctionArn"] == {"Fn::GetAtt": [ingest, "Arn"]}
            assert mappings == []
            Template.from_json(template).has_resource_properties(
                "AWS::Lambda::Permission",
                {"Principal": "iot.amazonaws.com", "FunctionName": Match.any_value()},
            )


def test_devices_may_publish_only_on_their_own_topic(templates: dict[str, dict[str, Any]]) -> None:
    [policy] = resources(templates["prod"], "AWS::IoT::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    own = "devices/${iot:Connection.Thing.Attributes[device_id]}"

    def topics(action: str) -> list[str]:
        [statement] = [s for s in statements if s["Action"] == action]
        return [_topic(r) for r in statement["Resource"]]

    # its telemetry and its job updates (`*`: any execution of its own)
    assert topics("iot:Publish") == [f"{own}/telemetry", f"{own}/jobs/*/update"]
    assert topics("iot:Subscribe") == [f"{own}/jobs/*"]  # any filter; receives: below
    assert topics("iot:Receive") == [
        f"{own}/jobs/notify", f"{own}/jobs/*/update/accepted", f"{own}/jobs/*/update/rejected"
    ]  # fmt: skip
    connect = [s for s in statements if s["Action"] == "iot:Connect"]
    assert "client/${iot:Connection.Thing.ThingName}" in json.dumps(connect[0]["Resource"])


def test_the_http_api_needs_a_cognito_token_but_on_the_device_routes(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["prod"]
    [http_id] = [
        k
        for k, v in resources(template, "AWS::ApiGatewayV2::Api").items()
        if v["Properties"]["ProtocolType"] == "HTTP"
    ]
    [authorizer_id] = resources(template, "AWS::ApiGatewayV2::Authorizer")
    authorizer = template["Resources"][authorizer_id]["Properties"]
    assert authorizer["AuthorizerType"] == "JWT"
    issuer = json.dumps(authorizer["JwtConfiguration"]["Issuer"])
    assert "cognito-idp." in issuer
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(template, "AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": http_id}
    }
    assert routes["$default"]["AuthorizationType"] == "JWT"
    assert routes["$default"]["AuthorizerId"] == {"Ref": authorizer_id}
    for path, method in DEVICE_ROUTES:
        route = routes[f"{method} {path}"]
        assert route.get("AuthorizationType", "NONE") == "NONE"
    assert len(routes) == len(DEVICE_ROUTES) + 1


def test_the_user_pool_carries_tenants_and_roles(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["prod"]
    [pool] = resources(template, "AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    schema = {a["Name"]: a for a in props["Schema"]}
    assert schema["tenant_id"]["Mutable"] is False
    groups = {
        g["Properties"]["GroupName"]
        for g in resources(template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == set(ROLES)
    env = _function(template, "fleetwatch.lambdas.api_handler")["Environment"]["Variables"]
    assert env["FLEETWATCH_TENANT_CLAIM"] == "custom:tenant_id"
    assert env["FLEETWATCH_ROLES_CLAIM"] == "cognito:groups"
    assert env["FLEETWATCH_CREATE_TABLES"] == "false"
    assert env["FLEETWATCH_DYNAMODB_TABLE_PREFIX"] == stage("prod").table_prefix


@STAGE_PARAMS
def test_every_function_is_traced_logged_and_has_a_role_of_its_own(
    templates: dict[str, dict[str, Any]], name: str
) -> None:
    template = templates[name]
    functions = resources(template, "AWS::Lambda::Function")
    ours = {
        k: v
        for k, v in functions.items()
        if v["Properties"].get("Handler", "").startswith("fleetwatch.")
    }
    assert len(ours) == len(HANDLERS)
    roles = [v["Properties"]["Role"]["Fn::GetAtt"][0] for v in ours.values()]
    assert len(set(roles)) == len(HANDLERS)
    for fn in ours.values():
        props = fn["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Runtime"] == "python3.12"
        group = template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == stage(name).log_retention_days


def test_roles_grant_what_each_function_uses_and_no_wildcard(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["prod"]
    prefix = stage("prod").table_prefix
    table_ids = {
        v["Properties"]["TableName"].removeprefix(prefix): k
        for k, v in resources(template, "AWS::DynamoDB::Table").items()
    }
    for policy in _policies(template):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Action"] != "*"
            assert statement.get("Resource") != "*" or _allowed_on_any_resource(statement)
    assert set(HANDLERS) == set(ACCESS)
    for name, handler in HANDLERS.items():
        role = _function(template, handler)["Role"]["Fn::GetAtt"][0]
        written = _tables_with(template, role, "dynamodb:PutItem", table_ids)
        read = _tables_with(template, role, "dynamodb:Query", table_ids)
        expected = {table for table in table_ids if writable(ACCESS[name][1], table)}
        assert written == expected, name
        assert read == set(table_ids), name
        if name == "projector":
            assert written & set(NOT_READ_MODELS) == {"notification_outbox"}


def test_alarms_cover_functions_api_tables_streams_and_dead_letters(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["prod"]
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    [topic] = resources(template, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    metrics = json.dumps([a["Properties"] for a in alarms.values()])
    for metric in ("Errors", "IteratorAge", "5xx", "ReadThrottleEvents", "WriteThrottleEvents",
                   "ApproximateNumberOfMessagesVisible"):  # fmt: skip
        assert f'"{metric}"' in metrics, metric
    queues = resources(template, "AWS::SQS::Queue")
    tables = resources(template, "AWS::DynamoDB::Table")
    # a function's errors, iterator ages (3), the API, a table each, a dead-letter queue each
    dead_letter_queues = len(queues) - 1  # the IoT rule's error queue has no alarm of its own
    assert len(alarms) == len(HANDLERS) + 3 + 1 + len(tables) + dead_letter_queues


def test_buckets_are_private_encrypted_and_tls_only(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["prod"]
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket_id, bucket in buckets.items():
        props = bucket["Properties"]
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"
        policies = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in resources(template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": bucket_id}
        ]
        denies = [s for statements in policies for s in statements if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    assert all(
        b["DeletionPolicy"] == "Delete"
        for b in resources(templates["dev"], "AWS::S3::Bucket").values()
    )


def _function(template: dict[str, Any], handler: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][function_id(template, handler)]["Properties"]
    return props


def _policies(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Inline policies, and the managed ones CDK moves statements to past the inline limit."""
    return [
        *resources(template, "AWS::IAM::Policy").values(),
        *resources(template, "AWS::IAM::ManagedPolicy").values(),
    ]


def _policies_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        s
        for p in _policies(template)
        if {"Ref": role} in p["Properties"].get("Roles", [])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _role_actions(template: dict[str, Any], role: str) -> set[str]:
    found: set[str] = set()
    for statement in _policies_of(template, role):
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def _tables_with(
    template: dict[str, Any], role: str, action: str, table_ids: dict[str, str]
) -> set[str]:
    """The tables (names without the prefix) on which `role` may do `action`."""
    names = {v: k for k, v in table_ids.items()}
    found: set[str] = set()
    for statement in _policies_of(template, role):
        actions = statement["Action"]
        if action not in ([actions] if isinstance(actions, str) else actions):
            continue
        for resource in json.dumps(statement["Resource"]).split('"Fn::GetAtt": [')[1:]:
            logical = resource.split('"')[1]
            if logical in names:
                found.add(names[logical])
    return found


def _allowed_on_any_resource(statement: dict[str, Any]) -> bool:
    """Actions IAM grants only on `*`: X-Ray's (tracing), DynamoDB's ListStreams (the stream's
    event source mapping), SNS's Publish to a phone number (SMS; topics denied beside it),
    IoT's DescribeEndpoint (the account's data endpoint, for OTA jobs)."""
    actions = statement["Action"]
    listed = [actions] if isinstance(actions, str) else actions
    return all(
        a.startswith("xray:")
        or a in ("dynamodb:ListStreams", "sns:Publish", "iot:DescribeEndpoint")
        for a in listed
    )


def test_every_function_reads_the_stage_secret_and_only_it(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["prod"]
    [(secret_id, secret)] = resources(template, "AWS::SecretsManager::Secret").items()
    generate = secret["Properties"]["GenerateSecretString"]
    assert generate["GenerateStringKey"] == "FLEETWATCH_AUDIT_SIGNING_SEED"
    assert generate["PasswordLength"] >= 64
    assert "KmsKeyId" in secret["Properties"]
    for handler in HANDLERS.values():
        fn = _function(template, handler)
        assert fn["Environment"]["Variables"]["FLEETWATCH_SECRETS"] == {"Ref": secret_id}
        role = fn["Role"]["Fn::GetAtt"][0]
        reads = [
            s
            for s in _policies_of(template, role)
            if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])
        ]
        assert [s["Resource"] for s in reads] == [{"Ref": secret_id}]


def test_subscriptions_go_through_the_websocket_api(templates: dict[str, dict[str, Any]]) -> None:
    """Both API protocols; the WebSocket routes to its function, which with the projector may
    post to its connections; the projector is told where; the gateway's rows expire."""
    template = templates["prod"]
    protocols = sorted(
        a["Properties"]["ProtocolType"]
        for a in resources(template, "AWS::ApiGatewayV2::Api").values()
    )
    assert protocols == ["HTTP", "WEBSOCKET"]
    [ws_id] = [
        k
        for k, v in resources(template, "AWS::ApiGatewayV2::Api").items()
        if v["Properties"]["ProtocolType"] == "WEBSOCKET"
    ]
    routes = {
        r["Properties"]["RouteKey"]
        for r in resources(template, "AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": ws_id}
    }
    assert routes == {"$connect", "$disconnect", "$default"}
    for handler in (
        "fleetwatch.ws_gateway.websocket_handler",
        "fleetwatch.lambdas.projector_handler",
    ):
        role = _function(template, handler)["Role"]["Fn::GetAtt"][0]
        assert "execute-api:ManageConnections" in _role_actions(template, role), handler
    projector = _function(template, "fleetwatch.lambdas.projector_handler")
    endpoint = json.dumps(projector["Environment"]["Variables"]["FLEETWATCH_WS_GATEWAY_ENDPOINT"])
    assert ws_id in endpoint
    prefix = stage("prod").table_prefix
    ttl = {
        v["Properties"]["TableName"].removeprefix(prefix): v["Properties"].get(
            "TimeToLiveSpecification"
        )
        for v in resources(template, "AWS::DynamoDB::Table").values()
    }
    for name, attribute in TTL_ATTRIBUTES.items():
        assert ttl[name] == {"AttributeName": attribute, "Enabled": True}
    assert all(spec is None for name, spec in ttl.items() if name not in TTL_ATTRIBUTES)


@STAGE_PARAMS
def test_ota_jobs_go_through_iot_core(templates: dict[str, dict[str, Any]], name: str) -> None:
    """The job updates' rule invokes the jobs function; the processes function may publish job
    documents on the notify topics only, the jobs function its answers only; both find the
    data endpoint at run time (`describe`), and every function agrees on the channel."""
    template = templates[name]
    jobs = function_id(template, HANDLERS["jobs"])
    [payload] = [r["Properties"]["TopicRulePayload"]
                 for r in resources(template, "AWS::IoT::TopicRule").values()
                 if r["Properties"]["TopicRulePayload"]["Sql"] == JOBS_RULE_SQL]  # fmt: skip
    [action] = payload["Actions"]
    assert action["Lambda"]["FunctionArn"] == {"Fn::GetAtt": [jobs, "Arn"]}
    assert "Sqs" in payload["ErrorAction"]
    invokes = [p["Properties"] for p in resources(template, "AWS::Lambda::Permission").values()
               if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [jobs, "Arn"]}]  # fmt: skip
    assert [p["Principal"] for p in invokes] == ["iot.amazonaws.com"]
    # an update the function still fails on after two retries goes to its dead letters
    configs = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
               for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()}  # fmt: skip
    ingest = function_id(template, HANDLERS["ingest"])
    invoked = {jobs} if stage(name).telemetry_via_kinesis else {jobs, ingest}
    assert set(configs) == invoked  # the functions IoT rules invoke (ingest: where no Kinesis)
    for config in configs.values():
        assert config["MaximumRetryAttempts"] == 2
        destination = config["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination["Fn::GetAtt"][1] == "Arn"
        assert template["Resources"][destination["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
    published = {}
    for handler in HANDLERS.values():
        fn = _function(template, handler)
        assert fn["Environment"]["Variables"]["FLEETWATCH_OTA_IOT_ENDPOINT"] == "describe"
        role = fn["Role"]["Fn::GetAtt"][0]
        published[handler] = sorted(
            _topic(resource)
            for statement in _policies_of(template, role)
            if "iot:Publish" in _listed(statement["Action"])
            for resource in _listed(statement["Resource"])
        )
    assert published.pop(HANDLERS["processes"]) == ["devices/*/jobs/notify"]
    assert published.pop(HANDLERS["jobs"]) == [
        "devices/*/jobs/*/update/accepted", "devices/*/jobs/*/update/rejected"
    ]  # fmt: skip
    assert all(topics == [] for topics in published.values())  # no other function publishes


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _topic(resource: Any) -> str:
    """The topic (or filter) of an IoT ARN the template joins from its account's parts."""
    last = resource["Fn::Join"][1][-1] if isinstance(resource, dict) else resource
    return str(re.split(r":topic(?:filter)?/", last, maxsplit=1)[1])
