"""Step 1 of the telemetry command handler: one submission in, a `Pending` entry or a refusal out.

Apart from `write_side.ingestion.handler` (step 2: grouping, deduplication against the streams
and raw history, the one `insert_events` call, retries) because this step touches no stream and
no store but the device directory, runs on any thread, and is where every transport's bad input
ends: a payload that is not JSON, not an object or over the size limit, a message that fails
`validate_message`, a channel naming another device, a missing or foreign device token, an
unknown or decommissioned device. Each refusal is a typed `MessageResult` ("rejected", with its
code), final at once; the handler counts it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from write_side.credentials import AccessDenied, DeviceDirectory, check_access, parse_token
from write_side.errors import InvalidTelemetry
from write_side.ingestion.results import MessageResult, Pending, Submission
from write_side.telemetry import TelemetryLimits, validate_message
from write_side.telemetry_log import telemetry_id

log = logging.getLogger("write_side.ingestion.handler")  # the handler's logger, as before the split

INVALID_TELEMETRY = InvalidTelemetry.code
REFRESH_AFTER_S = 1.0  # a refused device's cached access is reloaded at most this often
_MAYBE_STALE = (AccessDenied.UNAUTHENTICATED, AccessDenied.UNKNOWN_DEVICE)
_ENCODED = (bytes, str)


def prepare_submission(
    submission: Submission,
    now: datetime,
    limits: TelemetryLimits,
    directory: DeviceDirectory,
    heartbeat_timeout_s: int,
) -> Pending | MessageResult:
    """Step 1 of `TelemetryIngestion.prepare` (which counts the refusals): decode, validate,
    authenticate. `heartbeat_timeout_s`: the default of devices without their own."""
    raw, size, problem = _decode(submission.payload, limits.max_payload_bytes)
    if raw is None:
        return MessageResult.rejected(INVALID_TELEMETRY, problem)
    try:
        message = validate_message(raw, now, limits, size=size)
    except InvalidTelemetry as e:
        message_id = raw.get("message_id")
        return MessageResult.rejected(
            INVALID_TELEMETRY, e.message, message_id if isinstance(message_id, str) else None
        )
    except Exception:  # a shape validation did not foresee: refuse it, never retry it
        log.exception("unreadable telemetry message")
        return MessageResult.rejected(INVALID_TELEMETRY, "unreadable message")
    device_id, message_id = message.device_id, message.message_id
    channel = submission.channel_device_id
    if channel is not None and channel.lower() not in (str(device_id), device_id.hex):
        detail = "the topic names another device than the message"
        return MessageResult.rejected(AccessDenied.UNAUTHENTICATED, detail, message_id, device_id)
    token: object = submission.token or raw.get("token")
    proven = submission.channel_proven and channel is not None
    if submission.trusted_tenant is None and not proven:
        token = parse_token(token)
        if token is None or token.device_id != device_id:
            detail = "a valid device token for this device is required"
            code = AccessDenied.UNAUTHENTICATED
            return MessageResult.rejected(code, detail, message_id, device_id)
    access = directory.lookup(device_id)
    denied = check_access(access, device_id, token, submission.trusted_tenant, proven=proven)
    if denied in _MAYBE_STALE:  # issued or registered a moment ago? ask the store again
        access = directory.lookup(device_id, max_age=REFRESH_AFTER_S)
        denied = check_access(access, device_id, token, submission.trusted_tenant, proven=proven)
    if denied is not None or access is None:
        code = denied or AccessDenied.UNKNOWN_DEVICE
        return MessageResult.rejected(code, _DENIED[code], message_id, device_id)
    entry = message.entry()
    if entry is None:
        detail = "no reading or status field of the message is valid"
        return MessageResult.rejected(
            INVALID_TELEMETRY, detail, message_id, device_id, message.rejections
        )
    return Pending(
        tenant_id=access.tenant_id,
        stream_id=telemetry_id(access.tenant_id, device_id),
        message=message,
        entry=entry,
        received_at=now,
        transport=submission.transport,
        heartbeat_timeout_s=access.heartbeat_timeout_s or heartbeat_timeout_s,
    )


_DENIED: Mapping[str, str] = {
    AccessDenied.UNAUTHENTICATED: "the device token is not valid for this device",
    AccessDenied.UNKNOWN_DEVICE: "no such device",
    AccessDenied.DEVICE_DECOMMISSIONED: "the device is decommissioned",
}


def _decode(
    payload: bytes | str | Mapping[str, Any], max_bytes: int
) -> tuple[Mapping[str, Any] | None, int | None, str]:
    """The message as a mapping (None when unusable), its size when known, and the problem."""
    if not isinstance(payload, _ENCODED) and isinstance(payload, Mapping):  # ABC check last
        return payload, None, ""
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if size > max_bytes:
        return None, size, f"message of {size} bytes is over {max_bytes}"
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError:
        # orjson is strict JSON; the standard parser also reads what devices send besides
        # (NaN, Infinity, integers over 64 bits), so those values are refused per reading.
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            return None, size, f"not JSON: {e}"
    if not isinstance(raw, dict):
        return None, size, "a telemetry message must be a JSON object"
    return raw, size, ""
