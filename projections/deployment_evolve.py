"""The deployments projection's pure part for the `Deployment` row: its own events, and the
counts an execution's transition moves (`count_move`). No reader, no view, no I/O.

The row is fed by several streams (the deployment's and its executions'), so its guard is the
feed position it absorbed (`position`); `version` is the deployment stream's, for
`expectedVersion`. An execution moves the counts by its transition (one out of the state it
left, one into the state it entered), decided from the execution's row: the projection commits
an execution's row and the deployment row it moved in one transaction, so a replay skips both
or neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from event_store.envelope import EventEnvelope
from read_side.deployments import DecisionRow, DeploymentRow, WaveRow
from read_side.deployments.eta import bucket_of
from write_side.deployment_states import DeploymentStatus as Status
from write_side.deployment_states import ExecutionState
from write_side.deployments import (
    DEPLOYMENT_ABORTED,
    DEPLOYMENT_CANCELED,
    DEPLOYMENT_COMPLETED,
    DEPLOYMENT_CREATED,
    DEPLOYMENT_EVENTS,
    DEPLOYMENT_HEALTH_CHECKED,
    DEPLOYMENT_PAUSED,
    DEPLOYMENT_RESUMED,
    DEPLOYMENT_SOAK_STARTED,
    DEPLOYMENT_STARTED,
    DEPLOYMENT_WAVE_APPROVAL_REQUESTED,
    DEPLOYMENT_WAVE_APPROVED,
    DEPLOYMENT_WAVE_PROMOTED,
    DEPLOYMENT_WAVE_STARTED,
)
from write_side.event_names import types

DEPLOYMENT_TYPES = types(DEPLOYMENT_EVENTS)
_NOT_EVIDENCE = frozenset({"wave", "by", "reason", "at", "evidence"})
# The status each event leaves the deployment in (None: unchanged; Resumed: see below).
_STATUS = {
    DEPLOYMENT_STARTED.type: Status.RUNNING,
    DEPLOYMENT_WAVE_APPROVAL_REQUESTED.type: Status.AWAITING_APPROVAL,
    DEPLOYMENT_WAVE_APPROVED.type: Status.RUNNING,
    DEPLOYMENT_PAUSED.type: Status.PAUSED,
    DEPLOYMENT_ABORTED.type: Status.ABORTED,
    DEPLOYMENT_CANCELED.type: Status.CANCELED,
    DEPLOYMENT_COMPLETED.type: Status.COMPLETED,
}
_FINISHING = {DEPLOYMENT_ABORTED.type, DEPLOYMENT_CANCELED.type, DEPLOYMENT_COMPLETED.type}


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def created(envelope: EventEnvelope) -> DeploymentRow:
    payload = envelope.payload
    plan = dict(payload["plan"])
    waves = tuple(
        WaveRow(index=i, approval=bool(w.get("approval"))) for i, w in enumerate(plan["waves"])
    )
    return DeploymentRow(
        tenant_id=str(payload["tenant_id"]),
        deployment_id=UUID(envelope.stream_id),
        name=str(payload["name"]),
        firmware_id=UUID(str(payload["firmware_id"])),
        firmware_version=str(payload["firmware_version"]),
        status=Status.SCHEDULED,
        current_wave=None,
        target=dict(payload["target"]),
        targets=0,
        waves=waves,
        counts={},
        decisions=(),
        plan=plan,
        seed=int(plan["seed"]),
        created_by=str(payload["created_by"]),
        created_at=envelope.occurred_at,
        started_at=None,
        finished_at=None,
        notified=0,
        success_seconds={},
        version=envelope.version,
        position=envelope.position or 0,
        updated_at=envelope.occurred_at,
    )


def evolve_deployment(
    current: DeploymentRow | None, envelope: EventEnvelope
) -> DeploymentRow | None:
    """The row after one of its own events; None when absorbed already (or unknown)."""
    if envelope.type == DEPLOYMENT_CREATED.type:
        return created(envelope) if current is None else None
    if current is None or (envelope.position or 0) <= current.position:
        return None
    payload, kind = envelope.payload, envelope.type
    at = _time(payload["at"]) if "at" in payload else envelope.occurred_at
    wave = payload.get("wave")
    evidence = dict(payload.get("evidence") or {})
    evidence |= {k: v for k, v in payload.items() if k not in _NOT_EVIDENCE}
    decision = DecisionRow(
        kind=_snake(kind.rsplit(".", 1)[-1]),
        by=str(payload.get("by") or envelope.actor),
        at=at,
        wave=None if wave is None else int(wave),
        reason=payload.get("reason"),
        evidence=evidence,
    )
    changes: dict[str, Any] = {
        "decisions": (*current.decisions, decision),
        "version": envelope.version,
        "position": envelope.position or current.position,
        "updated_at": envelope.occurred_at,
    }
    if (status := _STATUS.get(kind)) is not None:
        changes["status"] = status
    if kind == DEPLOYMENT_PAUSED.type:
        changes["paused_from"] = current.status
    elif kind == DEPLOYMENT_RESUMED.type:
        changes["status"], changes["paused_from"] = current.paused_from or Status.RUNNING, None
    elif kind == DEPLOYMENT_STARTED.type:
        changes["targets"], changes["started_at"] = int(payload["targets"]), at
    elif kind in _FINISHING:
        changes["finished_at"] = at
    if kind == DEPLOYMENT_WAVE_STARTED.type:
        changes["current_wave"] = int(payload["wave"])
    if wave is not None and 0 <= int(wave) < len(current.waves):
        changes["waves"] = _wave_changed(current.waves, int(wave), kind, payload, at)
    return replace(current, **changes)


def _wave_changed(
    waves: tuple[WaveRow, ...], index: int, kind: str, payload: Mapping[str, Any], at: datetime
) -> tuple[WaveRow, ...]:
    wave = waves[index]
    if kind == DEPLOYMENT_WAVE_APPROVAL_REQUESTED.type:
        wave = replace(wave, approval_requested_at=at)
    elif kind == DEPLOYMENT_WAVE_APPROVED.type:
        wave = replace(wave, approved_by=str(payload["by"]), approved_at=at)
    elif kind == DEPLOYMENT_WAVE_STARTED.type:
        wave = replace(wave, members=int(payload["members"]), started_at=at)
    elif kind == DEPLOYMENT_SOAK_STARTED.type:
        wave = replace(wave, soak_until=_time(payload["until"]))
    elif kind == DEPLOYMENT_HEALTH_CHECKED.type:
        wave = replace(wave, health_passed=bool(payload["passed"]))
    elif kind == DEPLOYMENT_WAVE_PROMOTED.type:
        wave = replace(wave, promoted_at=at)
    return (*waves[:index], wave, *waves[index + 1 :])


def _moved(counts: Mapping[str, int], before: str | None, after: str) -> dict[str, int]:
    moved = dict(counts)
    if before is not None:
        moved[before] = moved.get(before, 0) - 1
        if moved[before] <= 0:
            del moved[before]
    moved[after] = moved.get(after, 0) + 1
    return moved


class Move(NamedTuple):
    """What one execution event changes in its deployment's row."""

    wave: int
    before: ExecutionState | None  # None: a new execution
    after: ExecutionState
    first_notified: bool = False  # its first notification (the NOTIFIED ramp count)
    success_seconds: float | None = None  # SUCCEEDED this long after its first notification


def count_move(row: DeploymentRow, envelope: EventEnvelope, move: Move) -> DeploymentRow:
    """The row after an execution of it moved from `before` (None: new) to `after`."""
    changes: dict[str, Any] = {
        "position": envelope.position or row.position,
        "updated_at": max(row.updated_at, envelope.occurred_at),
    }
    if move.before is not move.after:
        before, after = None if move.before is None else move.before.value, move.after.value
        changes["counts"] = _moved(row.counts, before, after)
        if 0 <= move.wave < len(row.waves):
            waves = list(row.waves)
            waves[move.wave] = replace(
                waves[move.wave], counts=_moved(waves[move.wave].counts, before, after)
            )
            changes["waves"] = tuple(waves)
    if move.first_notified:
        changes["notified"] = row.notified + 1
    if move.success_seconds is not None:
        bucket = bucket_of(move.success_seconds)
        histogram = dict(row.success_seconds)
        histogram[bucket] = histogram.get(bucket, 0) + 1
        changes["success_seconds"] = histogram
    return replace(row, **changes)
