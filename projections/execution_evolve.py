"""The deployments projection's pure part for executions and devices: an execution's row and
history entry after one of its events (with the `Move` it makes in its deployment's counts),
and a device's compliance row after a `Device` event, a telemetry batch or one of its
executions. No reader, no view, no I/O.

An execution's row is guarded by its stream's version; a device's row is fed by several
streams (its own, its telemetry, its executions), so by the feed position it absorbed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventEnvelope
from projections.deployment_evolve import Move
from read_side.deployments import DeviceComplianceRow, ExecutionRow, TransitionRow
from write_side.deployment_executions import (
    EXECUTION_ADVANCED,
    EXECUTION_CANCELED,
    EXECUTION_EVENTS,
    EXECUTION_FAILED,
    EXECUTION_NOTIFIED,
    EXECUTION_QUEUED,
    EXECUTION_REJECTED,
    EXECUTION_RETRIED,
    EXECUTION_RETRY_ABANDONED,
    EXECUTION_ROLLED_BACK,
    EXECUTION_SUCCEEDED,
    EXECUTION_TIMED_OUT,
)
from write_side.deployment_states import TERMINAL
from write_side.deployment_states import ExecutionState as S
from write_side.devices import DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.event_names import types
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

EXECUTION_TYPES = types(EXECUTION_EVENTS)
# The state each event leaves an execution in (Advanced: its `to_state`).
_STATE = {
    EXECUTION_QUEUED.type: S.QUEUED,
    EXECUTION_NOTIFIED.type: S.NOTIFIED,
    EXECUTION_SUCCEEDED.type: S.SUCCEEDED,
    EXECUTION_FAILED.type: S.FAILED,
    EXECUTION_TIMED_OUT.type: S.TIMED_OUT,
    EXECUTION_REJECTED.type: S.REJECTED,
    EXECUTION_CANCELED.type: S.CANCELED,
    EXECUTION_ROLLED_BACK.type: S.ROLLED_BACK,
    EXECUTION_RETRIED.type: S.QUEUED,
    EXECUTION_RETRY_ABANDONED.type: S.FAILED,
}
_FINAL_FAILURES = {
    EXECUTION_TIMED_OUT.type,
    EXECUTION_REJECTED.type,
    EXECUTION_ROLLED_BACK.type,
    EXECUTION_RETRY_ABANDONED.type,
}


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _kind(envelope: EventEnvelope) -> str:
    name = envelope.type.rsplit(".", 1)[-1]
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _queued(envelope: EventEnvelope, at: datetime) -> ExecutionRow:
    payload = envelope.payload
    return ExecutionRow(
        tenant_id=str(payload["tenant_id"]),
        execution_id=UUID(envelope.stream_id),
        deployment_id=UUID(str(payload["deployment_id"])),
        device_id=UUID(str(payload["device_id"])),
        purpose=str(payload["purpose"]),
        wave=int(payload["wave"]),
        firmware_id=UUID(str(payload["firmware_id"])),
        target_version=str(payload["target_version"]),
        from_version=payload.get("from_version"),
        state=S.QUEUED,
        attempt=0,
        reason=str(payload["reason"]),
        failure_kind=None,
        not_before=_time(payload.get("not_before")),
        reported_version=None,
        percent=None,
        seq=None,
        stall_deadline=None,
        retry_at=None,
        queued_at=at,
        notified_at=None,
        finished_at=None,
        version=envelope.version,
        position=envelope.position or 0,
        updated_at=envelope.occurred_at,
    )


def evolve_execution(
    current: ExecutionRow | None, envelope: EventEnvelope
) -> tuple[ExecutionRow, TransitionRow, Move] | None:
    """The execution's row after `envelope`, its history entry and the move it makes in its
    deployment's counts; None when absorbed already (or never queued)."""
    payload, kind = envelope.payload, envelope.type
    at = _time(payload.get("at")) or envelope.occurred_at
    if kind == EXECUTION_QUEUED.type:
        if current is not None:
            return None
        row, before = _queued(envelope, at), None
    elif current is None or envelope.version <= current.version:
        return None
    else:
        row, before = _next(current, envelope, at), current.state
    if row.state in TERMINAL and (before is None or before not in TERMINAL):
        row = replace(row, finished_at=at)
    first_notified = kind == EXECUTION_NOTIFIED.type and (
        current is None or not current.notified_at
    )
    if first_notified:
        row = replace(row, notified_at=at)
    success = None
    if kind == EXECUTION_SUCCEEDED.type and row.notified_at is not None:
        success = max((at - row.notified_at).total_seconds(), 0.0)
    transition = TransitionRow(
        tenant_id=row.tenant_id,
        execution_id=row.execution_id,
        version=envelope.version,
        deployment_id=row.deployment_id,
        device_id=row.device_id,
        from_state=before,
        to_state=row.state,
        event=_kind(envelope),
        reason=payload.get("reason") or payload.get("source") or payload.get("stalled_in"),
        seq=payload.get("seq"),
        at=at,
    )
    return row, transition, Move(row.wave, before, row.state, first_notified, success)


def _next(current: ExecutionRow, envelope: EventEnvelope, at: datetime) -> ExecutionRow:
    payload, kind = envelope.payload, envelope.type
    state = S(str(payload["to_state"])) if kind == EXECUTION_ADVANCED.type else _STATE.get(kind)
    changes: dict[str, Any] = {
        "version": envelope.version,
        "position": envelope.position or current.position,
        "updated_at": envelope.occurred_at,
        "stall_deadline": _time(payload.get("stall_deadline")),
    }
    if state is not None:
        changes["state"] = state
    if payload.get("seq") is not None:
        changes["seq"] = int(payload["seq"])
    if payload.get("reason") is not None:
        changes["reason"] = str(payload["reason"])
    if kind == EXECUTION_NOTIFIED.type:
        changes["attempt"] = int(payload["attempt"])
        changes["not_before"] = None
    elif kind == EXECUTION_ADVANCED.type and payload.get("percent") is not None:
        changes["percent"] = int(payload["percent"])
    elif kind in (EXECUTION_SUCCEEDED.type, EXECUTION_ROLLED_BACK.type):
        changes["reported_version"] = str(payload["reported_version"])
    elif kind == EXECUTION_FAILED.type:
        changes["failure_kind"] = str(payload["kind"])
        changes["retry_at"] = _time(payload.get("retry_at"))
    elif kind == EXECUTION_TIMED_OUT.type:
        changes["failure_kind"], changes["reason"] = "stalled", str(payload["stalled_in"])
    if kind in (EXECUTION_RETRIED.type, EXECUTION_RETRY_ABANDONED.type):
        changes["retry_at"] = None
    if kind == EXECUTION_RETRIED.type:
        changes["finished_at"] = None  # running again
    return replace(current, **changes)


def final_failure(envelope: EventEnvelope) -> bool:
    """Whether an execution event ends it in a failure no retry follows."""
    if envelope.type == EXECUTION_FAILED.type:
        return envelope.payload.get("retry_at") is None
    return envelope.type in _FINAL_FAILURES


def evolve_device(
    current: DeviceComplianceRow | None,
    envelope: EventEnvelope,
    execution: ExecutionRow | None = None,
) -> DeviceComplianceRow | None:
    """A device's compliance row after a `Device` event, a telemetry batch reporting a
    firmware version, or an event of one of its executions (`execution`: its row after it)."""
    position = envelope.position or 0
    payload, kind = envelope.payload, envelope.type
    if kind == DEVICE_REGISTERED.type and current is None:
        return DeviceComplianceRow(
            tenant_id=str(payload["tenant_id"]),
            device_id=UUID(envelope.stream_id),
            device_type=str(payload["device_type"]),
            reported_version=None,
            reported_at=None,
            last_failed_execution=None,
            last_failed_at=None,
            position=position,
            updated_at=envelope.occurred_at,
        )
    if current is None or position <= current.position:
        return None
    common: dict[str, Any] = {"position": position, "updated_at": envelope.occurred_at}
    if kind == DEVICE_UPDATED.type and payload.get("device_type") is not None:
        return replace(current, device_type=str(payload["device_type"]), **common)
    if kind == TELEMETRY_BATCH_RECORDED.type:
        return _reported(current, payload, common)
    if execution is None or kind not in EXECUTION_TYPES:
        return None
    if kind == EXECUTION_SUCCEEDED.type:
        return replace(
            current,
            reported_version=execution.reported_version,
            reported_at=envelope.occurred_at,
            last_failed_execution=None,
            last_failed_at=None,
            **common,
        )
    if final_failure(envelope):
        changes = dict(common, last_failed_execution=execution.execution_id)
        if kind == EXECUTION_ROLLED_BACK.type:
            changes |= {"reported_version": execution.reported_version}
            changes |= {"reported_at": envelope.occurred_at}
        return replace(current, last_failed_at=envelope.occurred_at, **changes)
    return None


def reports_version(payload: dict[str, Any]) -> bool:
    """Whether a telemetry batch reports a firmware version (most do not)."""
    return any(
        (e.get("status") or {}).get("firmware_version") for e in payload.get("entries") or ()
    )


def _reported(
    current: DeviceComplianceRow, payload: dict[str, Any], common: dict[str, Any]
) -> DeviceComplianceRow | None:
    """The newest entry of a batch that reports a firmware version, if newer than the row's."""
    reports = [
        (_time(e["at"]), str(e["status"]["firmware_version"]))
        for e in payload.get("entries") or ()
        if (e.get("status") or {}).get("firmware_version") is not None
    ]
    if not reports:
        return None
    at, version = max(reports, key=lambda r: str(r[0]))
    if at is not None and current.reported_at is not None and at < current.reported_at:
        return None
    return replace(current, reported_version=version, reported_at=at, **common)
