"""The stage's alarms, all to one SNS topic (subscribe the operators to it):

- each function's errors (any in 5 minutes);
- the HTTP API's 5xx (any in 5 minutes);
- each table's read and write throttling (any in 5 minutes);
- the projector's and Kinesis reader's stream iterator age (the oldest record waiting longer
  than the stage allows: the projectors fall behind);
- each dead-letter queue holding anything.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from infra.config import Stage

FIVE_MINUTES = cdk.Duration.minutes(5)


def build_alarms(
    scope: Any,
    stage: Stage,
    *,
    functions: dict[str, Any],
    http_api: Any,
    tables: dict[str, Any],
    dead_letters: dict[str, Any],
    key: Any,
    emulated: bool = False,
) -> Any:
    topic = sns.Topic(
        scope, "Alarms", display_name=f"Fleetwatch {stage.name} alarms", master_key=key
    )
    action = actions.SnsAction(topic)

    def alarm(name: str, metric: Any, threshold: float, description: str) -> None:
        created = cloudwatch.Alarm(
            scope,
            f"{name}Alarm",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        created.add_alarm_action(action)

    for name, fn in functions.items():
        alarm(
            f"{name.title()}Errors",
            fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            1,
            f"the {name} function failed",
        )
    for name in ("projector", "processes", "ingest"):
        if name in functions:
            alarm(
                f"{name.title()}IteratorAge",
                functions[name].metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum"),
                stage.iterator_age_alarm_s * 1000,
                f"the {name} function's oldest stream record waited over "
                f"{stage.iterator_age_alarm_s} s",
            )
    alarm(
        "Api5xx",
        http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
        1,
        "the HTTP API answered 5xx",
    )
    for name, table in ({} if emulated else tables).items():  # an emulator: no metric math
        throttled = cloudwatch.MathExpression(
            expression="r + w",
            using_metrics={
                "r": _table_metric(table, "ReadThrottleEvents"),
                "w": _table_metric(table, "WriteThrottleEvents"),
            },
            period=FIVE_MINUTES,
            label=f"{name} throttled",
        )
        title = "".join(part.title() for part in name.split("_"))
        alarm(f"Throttled{title}", throttled, 1, f"DynamoDB throttled requests on {name}")
    for name, queue in dead_letters.items():
        alarm(
            f"{name.title()}DeadLetters",
            queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            1,
            f"{name}: something landed in the dead letters",
        )
    return topic


def _table_metric(table: Any, name: str) -> Any:
    return cloudwatch.Metric(
        namespace="AWS/DynamoDB",
        metric_name=name,
        dimensions_map={"TableName": table.table_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )
