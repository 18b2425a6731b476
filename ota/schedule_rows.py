"""The stored form of the orchestrator's timers and job notices, shared by both stores
(`ota.schedule_sqlite`, `ota.schedule_dynamodb`): fixed-width UTC text for times, so text
order is time order; every other field as text or an integer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import Tracking

from ota.schedule import JobNotice, JobOperation, Timer, TimerKind
from write_side.deployment_states import Channel
from write_side.errors import InvalidInput

TIMERS_TABLE = "ota_timers"
OUTBOX_TABLE = "ota_outbox"
TIMER_COLUMNS = ("tenant_id", "timer_key", "due_at", "stream_id", "stream_version", "kind")
NOTICE_COLUMNS = (
    *("tenant_id", "notice_key", "device_id", "execution_id", "attempt", "operation"),
    "channel",
)


def iso(moment: datetime) -> str:
    """Fixed-width UTC text (microseconds), so text order is time order."""
    if moment.tzinfo is None:
        raise InvalidInput("a due time must be timezone-aware (UTC)", "due_at")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timer_record(timer: Timer) -> dict[str, Any]:
    return {
        "tenant_id": timer.tenant_id,
        "timer_key": timer.key,
        "due_at": iso(timer.due_at),
        "stream_id": str(timer.stream_id),
        "stream_version": timer.stream_version,
        "kind": timer.kind,
    }


def timer_of(record: Mapping[str, Any]) -> Timer:
    return Timer(
        due_at=datetime.fromisoformat(record["due_at"]),
        tenant_id=record["tenant_id"],
        stream_id=UUID(record["stream_id"]),
        stream_version=int(record["stream_version"]),
        kind=cast(TimerKind, record["kind"]),
    )


def notice_record(notice: JobNotice) -> dict[str, Any]:
    return {
        "tenant_id": notice.tenant_id,
        "notice_key": notice.key,
        "device_id": str(notice.device_id),
        "execution_id": str(notice.execution_id),
        "attempt": notice.attempt,
        "operation": notice.operation,
        "channel": notice.channel,
    }


def notice_of(record: Mapping[str, Any]) -> JobNotice:
    return JobNotice(
        tenant_id=record["tenant_id"],
        device_id=UUID(record["device_id"]),
        execution_id=UUID(record["execution_id"]),
        attempt=int(record["attempt"]),
        operation=cast(JobOperation, record["operation"]),
        channel=cast(Channel, record["channel"]),
    )


class ScheduleStore(Protocol):
    """Both ports in one store (the writer commits timers, notices and its checkpoint
    together), as each adapter implements them."""

    def schedule(self, timers: Sequence[Timer]) -> None: ...
    def due(self, now: datetime, limit: int) -> list[Timer]: ...
    def done(self, timers: Sequence[Timer]) -> None: ...
    def add(self, notices: Sequence[JobNotice]) -> None: ...
    def pending(self, limit: int) -> list[JobNotice]: ...
    def mark_sent(self, notices: Sequence[JobNotice]) -> None: ...

    def record(
        self, timers: Sequence[Timer], notices: Sequence[JobNotice], tracking: Tracking
    ) -> None:
        """The writer's batch: rows and checkpoint (SQLite: one transaction; DynamoDB: the
        rows, idempotent by key, then the checkpoint)."""

    def max_tracking_id(self, application_name: str) -> int | None: ...
