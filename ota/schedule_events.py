"""What the schedule writer takes from the feed (docs/firmware.md section 12.4), as pure
functions of recorded events: the due times events set (`timers_of`) and the messages devices
must get (`notices_of`). Events are selected only through the aggregates' event names.

- `Deployment.Created` with a plan `start_at` -> `start`; `Deployment.SoakStarted.until` ->
  `soak`; `DeploymentExecution.Queued.not_before` -> `not_before`;
  `Notified`/`Advanced.stall_deadline` -> `stall`; `Failed.retry_at` -> `retry`. Each timer
  names the stream and the version of the event that set it. `Firmware.UploadRequested
  .expires_at` (a presigned upload) -> `upload_expiry`, due `UPLOAD_GRACE` after it.
- `DeploymentExecution.Notified` -> an `install` or `revert` notice (the execution's purpose)
  at the event's attempt and channel; `Canceled` from a state the device had been told of
  (not QUEUED) -> a `cancel` notice at the last notified attempt and channel. What the
  notice needs beyond the event (device, purpose, last attempt and channel) is folded from
  the execution's stream up to the event (`execution_facts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

from event_store.envelope import EventEnvelope
from ota.schedule import JobNotice, JobOperation, Timer, TimerKind
from write_side.deployment_executions import (
    EXECUTION_ADVANCED,
    EXECUTION_CANCELED,
    EXECUTION_FAILED,
    EXECUTION_NOTIFIED,
    EXECUTION_QUEUED,
)
from write_side.deployment_states import Channel, ExecutionState, Purpose
from write_side.deployments import DEPLOYMENT_CREATED, DEPLOYMENT_SOAK_STARTED
from write_side.event_names import EventName, topics
from write_side.firmware import FIRMWARE_UPLOAD_REQUESTED, UPLOAD_GRACE

# The event type -> (the timer's kind, how to read its due time from the payload).
_DUE_FIELDS: dict[str, tuple[TimerKind, tuple[str, ...]]] = {
    DEPLOYMENT_CREATED.type: ("start", ("plan", "start_at")),
    DEPLOYMENT_SOAK_STARTED.type: ("soak", ("until",)),
    EXECUTION_QUEUED.type: ("not_before", ("not_before",)),
    EXECUTION_NOTIFIED.type: ("stall", ("stall_deadline",)),
    EXECUTION_ADVANCED.type: ("stall", ("stall_deadline",)),
    EXECUTION_FAILED.type: ("retry", ("retry_at",)),
    FIRMWARE_UPLOAD_REQUESTED.type: ("upload_expiry", ("expires_at",)),
}
_DELAYS: dict[TimerKind, timedelta] = {"upload_expiry": UPLOAD_GRACE}
NOTICE_EVENTS: tuple[EventName, ...] = (EXECUTION_NOTIFIED, EXECUTION_CANCELED)
HANDLED: tuple[EventName, ...] = (
    DEPLOYMENT_CREATED,
    DEPLOYMENT_SOAK_STARTED,
    EXECUTION_QUEUED,
    EXECUTION_NOTIFIED,
    EXECUTION_ADVANCED,
    EXECUTION_FAILED,
    EXECUTION_CANCELED,
    FIRMWARE_UPLOAD_REQUESTED,
)
HANDLED_TOPICS = topics(HANDLED)


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def timers_of(envelope: EventEnvelope) -> list[Timer]:
    """The timer the event sets, if it sets one."""
    found = _DUE_FIELDS.get(envelope.type)
    if found is None:
        return []
    kind, path = found
    value: object = envelope.payload
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    due_at = _time(value)
    if due_at is None:
        return []
    due_at += _DELAYS.get(kind, timedelta(0))
    stream = UUID(envelope.stream_id)
    return [Timer(due_at, envelope.tenant_id, stream, envelope.version, kind)]


@dataclass(frozen=True)
class ExecutionFacts:
    """What a notice needs of its execution beyond the event: folded from its stream."""

    device_id: UUID
    purpose: Purpose
    attempt: int  # the last notified attempt (0: never notified)
    channel: Channel


def execution_facts(envelopes: Iterable[EventEnvelope]) -> ExecutionFacts | None:
    """The facts of an execution's stream (its events in order); None without `Queued`."""
    facts: ExecutionFacts | None = None
    for envelope in envelopes:
        payload = envelope.payload
        if envelope.type == EXECUTION_QUEUED.type:
            purpose = cast(Purpose, payload["purpose"])
            facts = ExecutionFacts(UUID(payload["device_id"]), purpose, 0, "mqtt")
        elif envelope.type == EXECUTION_NOTIFIED.type and facts is not None:
            channel = cast(Channel, payload["channel"])
            facts = ExecutionFacts(facts.device_id, facts.purpose, payload["attempt"], channel)
    return facts


def needs_facts(envelope: EventEnvelope) -> bool:
    """Whether `notices_of` needs the execution's facts for this event."""
    if envelope.type == EXECUTION_NOTIFIED.type:
        return True
    told = envelope.payload.get("from_state") != ExecutionState.QUEUED
    return envelope.type == EXECUTION_CANCELED.type and told


def notices_of(envelope: EventEnvelope, facts: ExecutionFacts | None) -> list[JobNotice]:
    """The message a device must get for the event, if any (`facts`: its execution's, up to
    and including the event; a notice without them cannot be addressed and is not made)."""
    if not needs_facts(envelope) or facts is None:
        return []
    execution = UUID(envelope.stream_id)
    operation: JobOperation
    if envelope.type == EXECUTION_NOTIFIED.type:
        attempt, channel = int(envelope.payload["attempt"]), envelope.payload["channel"]
        operation = facts.purpose
    else:
        attempt, channel, operation = facts.attempt, facts.channel, "cancel"
    return [JobNotice(envelope.tenant_id, facts.device_id, execution, attempt, operation, channel)]
