"""The stage's data: the DynamoDB tables, the KMS key, the S3 buckets.

The tables are `tables.json`, the census of what the code makes (scripts/table_census.py; a
test fails when the code and the file differ): on-demand, point-in-time recovery, encrypted
with the stage's key. The events table streams keys only: the projector is woken by a record
and never reads it (fleetwatch/lambdas.py). The WebSocket gateway's connections and
subscriptions expire (`TTL_ATTRIBUTES`): a connection the gateway ended without `$disconnect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from infra.config import FEED_TABLE, TTL_ATTRIBUTES, Stage, table_specs

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


@dataclass(frozen=True)
class Storage:
    key: Any  # kms.Key
    tables: dict[str, Any]  # name without the prefix -> dynamodb.Table
    blobs: Any  # s3.Bucket: firmware images and exports
    analytics: Any  # s3.Bucket: the telemetry Parquet files (Athena/Trino read them as they are)


def build_storage(scope: Any, stage: Stage) -> Storage:
    removal = cdk.RemovalPolicy.RETAIN if stage.retain else cdk.RemovalPolicy.DESTROY
    key = kms.Key(
        scope,
        "DataKey",
        description=f"Fleetwatch {stage.name}: tables, buckets, personal data keys",
        enable_key_rotation=True,
        removal_policy=removal,
    )
    tables = {spec["TableName"]: _table(scope, stage, spec, key, removal) for spec in table_specs()}
    return Storage(
        key,
        tables,
        _bucket(scope, "Blobs", key, removal),
        _bucket(scope, "Analytics", key, removal),
    )


def _attribute(spec: dict[str, Any], name: str) -> Any:
    types = {a["AttributeName"]: a["AttributeType"] for a in spec["AttributeDefinitions"]}
    return dynamodb.Attribute(name=name, type=_TYPES[types[name]])


def _keys(spec: dict[str, Any], key_schema: list[dict[str, str]]) -> dict[str, Any]:
    keys = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    found = {"partition_key": _attribute(spec, keys["HASH"])}
    if "RANGE" in keys:
        found["sort_key"] = _attribute(spec, keys["RANGE"])
    return found


def _table(scope: Any, stage: Stage, spec: dict[str, Any], key: Any, removal: Any) -> Any:
    name = spec["TableName"]
    table = dynamodb.Table(
        scope,
        "Table" + "".join(part.title() for part in name.split("_")),
        table_name=f"{stage.table_prefix}{name}",
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        stream=dynamodb.StreamViewType.KEYS_ONLY if name == FEED_TABLE else None,
        time_to_live_attribute=TTL_ATTRIBUTES.get(name),
        deletion_protection=stage.retain,
        removal_policy=removal,
        **_keys(spec, spec["KeySchema"]),
    )
    for index in spec.get("GlobalSecondaryIndexes", []):
        projection = index["Projection"]
        table.add_global_secondary_index(
            index_name=index["IndexName"],
            projection_type=_PROJECTIONS[projection["ProjectionType"]],
            non_key_attributes=projection.get("NonKeyAttributes"),
            **_keys(spec, index["KeySchema"]),
        )
    return table


def _bucket(scope: Any, name: str, key: Any, removal: Any) -> Any:
    """Private (every public access blocked, TLS only, objects owned by the bucket owner),
    SSE-KMS with the stage's key (bucket keys: one KMS call per object, not per request),
    versioned; unfinished multipart uploads go after a day. Access is by presigned URLs that
    the functions make, never public."""
    rules = [s3.LifecycleRule(abort_incomplete_multipart_upload_after=cdk.Duration.days(1))]
    return s3.Bucket(
        scope,
        name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        lifecycle_rules=rules,
        removal_policy=removal,
    )
