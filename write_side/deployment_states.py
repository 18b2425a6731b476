"""A deployment execution's states, the device's update statuses and the failure kinds,
declared once for every layer (as `write_side.alert_lifecycle` declares an alert's): the pure
state machine (`write_side.deployment_execution`) moves between them, and the read models and
the API (later) name them without importing the machine. Design: docs/firmware.md section 12.3.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID, uuid5

from write_side.uuids import FLEETWATCH_NS

Purpose = Literal["install", "revert"]  # an execution installs the release, or goes back
QueueReason = Literal["new", "device_busy", "outside_window", "rate_limited"]
Channel = Literal["mqtt", "http"]  # how a device is told of its job
UpdateSource = Literal["update", "telemetry"]  # where a reported version came from
AbandonReason = Literal[
    "deployment_canceled", "deployment_aborted", "deployment_finished", "firmware_withdrawn"
]


def execution_id(tenant_id: str, deployment_id: UUID, device_id: UUID, purpose: str) -> UUID:
    """One execution stream per (deployment, device, purpose)."""
    return uuid5(FLEETWATCH_NS, f"{tenant_id}/deployment/{deployment_id}/{device_id}/{purpose}")


class ExecutionState(StrEnum):
    QUEUED = "QUEUED"
    NOTIFIED = "NOTIFIED"
    DOWNLOADING = "DOWNLOADING"
    DOWNLOADED = "DOWNLOADED"
    INSTALLING = "INSTALLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    ROLLED_BACK = "ROLLED_BACK"


# The device's work, in order: an update may skip forward along it, never step back.
CHAIN = (
    ExecutionState.NOTIFIED,
    ExecutionState.DOWNLOADING,
    ExecutionState.DOWNLOADED,
    ExecutionState.INSTALLING,
)
ACTIVE = frozenset(CHAIN)  # at most one execution per device is in one of these
TERMINAL = frozenset(
    {
        ExecutionState.SUCCEEDED,
        ExecutionState.FAILED,
        ExecutionState.TIMED_OUT,
        ExecutionState.REJECTED,
        ExecutionState.CANCELED,
        ExecutionState.ROLLED_BACK,
    }
)
REJECTABLE = frozenset(CHAIN[:-1])  # a device may refuse a job until it starts installing
CANCELABLE = frozenset({ExecutionState.QUEUED, *CHAIN[:-1]})  # an install runs to its end


class UpdateStatus(StrEnum):
    """What a device says in a job update (`status`)."""

    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    INSTALLING = "installing"
    SUCCEEDED = "succeeded"  # "done": SUCCEEDED only once the target version is reported
    FAILED = "failed"
    REJECTED = "rejected"


# The states a progress status moves to.
PROGRESS = {
    UpdateStatus.DOWNLOADING: ExecutionState.DOWNLOADING,
    UpdateStatus.DOWNLOADED: ExecutionState.DOWNLOADED,
    UpdateStatus.INSTALLING: ExecutionState.INSTALLING,
}


class FailureKind(StrEnum):
    """Why an execution failed; each kind has its own retry limit."""

    DOWNLOAD = "download"
    VERIFY = "verify"
    INSTALL = "install"
    STALLED = "stalled"  # no update before the state's stall deadline
    OTHER = "other"


class DeploymentStatus(StrEnum):
    SCHEDULED = "SCHEDULED"  # created, waiting for its start
    RUNNING = "RUNNING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # the next wave needs a person's approval
    PAUSED = "PAUSED"  # nobody is notified; running executions go on
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"
    CANCELED = "CANCELED"


FINISHED = frozenset(
    {DeploymentStatus.COMPLETED, DeploymentStatus.ABORTED, DeploymentStatus.CANCELED}
)
