"""AWS IoT Core transport: `handle(service, event)` for the events of a topic rule.

Rule: `RULE_SQL`, `SELECT *, topic(2) AS device_id, clientid() AS client_id FROM
'devices/+/telemetry'` (the CDK app deploys this one: infra/edges.py).
IoT Core authenticated the device (X.509 certificate; an IoT policy binds the client id
`{tenant}_{device_id}` to its own topic), so the handler trusts `client_id` instead of a token:
the tenant is the part before the last `_`, and the device id after it must be the message's.
A message without `client_id` falls back to the token in its payload.

Two event shapes, one code path (`IngestService`: the Lambda entry point
`fleetwatch.lambdas.iot_core_handler` builds it once per container and passes it to `handle`):

- Lambda action (one message per invocation): the event is the message. Returns
  `{"results": [...]}`; raises when the message could not be committed, so Lambda retries it.
- Kinesis action (partition key `${topic(2)}`): `{"Records": [{"kinesis": {"data": base64,
  "sequenceNumber": ...}}]}`. Returns `{"batchItemFailures": [{"itemIdentifier": seq}]}` for the
  records that were not committed (Kinesis retries them); rejections are final, never retried.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from write_side.ingestion import MessageResult, Submission

if TYPE_CHECKING:
    from ingestion.buffer import IngestService

COMMIT_TIMEOUT_S = 25.0
# The topic rule this handler reads the events of: `device_id` and `client_id` are its aliases.
RULE_SQL = "SELECT *, topic(2) AS device_id, clientid() AS client_id FROM 'devices/+/telemetry'"


def handle(service: IngestService, event: Mapping[str, Any]) -> dict[str, Any]:
    """One topic-rule event (either shape) through `service`."""
    if isinstance(event.get("Records"), list):
        return _kinesis(service, event["Records"])
    result = _ingest(service, [_submission(event)])[0]
    if result is None:
        raise RuntimeError("the message could not be committed; retry")
    return {"results": [result.to_json()]}


def _kinesis(service: IngestService, records: list[Any]) -> dict[str, Any]:
    submissions, ids = [], []
    for record in records:
        kinesis = record.get("kinesis") or {}
        ids.append(str(kinesis.get("sequenceNumber", "")))
        try:
            data = base64.b64decode(kinesis.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        try:
            submissions.append(_submission(json.loads(data)))
        except (ValueError, RecursionError):  # rejected (and counted) as INVALID_TELEMETRY
            submissions.append(Submission(data, "iot-core"))
    results = _ingest(service, submissions)
    failures = [{"itemIdentifier": i} for i, r in zip(ids, results, strict=True) if r is None]
    return {"batchItemFailures": failures}


def _submission(message: object) -> Submission:
    if not isinstance(message, Mapping):
        return Submission(json.dumps(message), "iot-core")
    raw = dict(message)
    client_id = raw.pop("client_id", None)
    topic_device = raw.get("device_id")
    tenant, device = trusted_identity(client_id)
    return Submission(
        raw,
        "iot-core",
        channel_device_id=device or (str(topic_device) if topic_device else None),
        trusted_tenant=tenant or None,
    )


def trusted_identity(client_id: object) -> tuple[str | None, str | None]:
    """(tenant, device id) from a client id `{tenant}_{device uuid}`; (None, None) unless both
    parts are there and the device part is a UUID (then the payload's token must prove it)."""
    if not isinstance(client_id, str):
        return None, None
    tenant, _, device = client_id.rpartition("_")
    try:
        device_id = str(UUID(device))
    except ValueError:
        return None, None
    return (tenant, device_id) if tenant else (None, None)


def _ingest(service: IngestService, submissions: list[Submission]) -> list[MessageResult | None]:
    """Results in order; None where the message was not committed (to be retried)."""
    futures = service.submit(submissions, block=True, timeout=COMMIT_TIMEOUT_S)
    results: list[MessageResult | None] = []
    for future in futures:
        try:
            results.append(future.result(COMMIT_TIMEOUT_S))
        except Exception:
            results.append(None)
    return results
