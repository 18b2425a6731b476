"""The deployments model's ports: the queries the API asks (`DeploymentsReader`) and the
writes the projection commits through (`DeploymentsView`), beside the adapters that implement
both (`sqlite`, `dynamodb`).

Orderings (the same on every adapter):
- deployments newest created first, then by deployment id;
- a deployment's executions by device id, then purpose (`install` before `revert`);
- a device's executions newest queued first, then by execution id;
- an execution's history oldest first (by the execution stream's version);
- compliance by device type.
Cursors are opaque base64url strings of the last key returned (`deployment_key`,
`execution_key`, `device_execution_key`: the sort keys of every adapter, and of the API's edge
cursors); a cursor of another listing is `InvalidInput(field="after")`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.alerts.rows import time_key
from read_side.deployments.row import (
    ComplianceRow,
    DeploymentRow,
    DeviceComplianceRow,
    ExecutionRow,
    TransitionRow,
)
from read_side.paging import Page
from write_side.deployment_states import DeploymentStatus, ExecutionState

__all__ = [
    "DEPLOYMENTS_CURSOR",
    "DEPLOYMENT_TOPIC",
    "DEVICE_EXECUTIONS_CURSOR",
    "EXECUTIONS_CURSOR",
    "DeploymentFilter",
    "DeploymentsChanges",
    "DeploymentsReader",
    "DeploymentsView",
    "deployment_key",
    "device_execution_key",
    "execution_key",
]

DEPLOYMENT_TOPIC = "deployment"  # the change notices' topic (`deploymentProgress`)
# The listings' cursor kinds: every adapter's, and the API's edge cursors.
DEPLOYMENTS_CURSOR, EXECUTIONS_CURSOR = "deployments", "executions"
DEVICE_EXECUTIONS_CURSOR = "device-executions"


def deployment_key(row: DeploymentRow) -> str:
    """Deployments are listed newest first by this key (creation time, then id) on every
    adapter; their cursors carry it. The time is `time_key`'s fixed-width UTC text, so text
    order is time order whatever the microseconds (`isoformat` drops zero ones) or offset."""
    return f"{time_key(row.created_at)}#{row.deployment_id.hex}"


def device_execution_key(row: ExecutionRow) -> str:
    """A device's executions are listed newest first by this key (queue time, then id)."""
    return f"{time_key(row.queued_at)}#{row.execution_id.hex}"


def execution_key(row: ExecutionRow) -> str:
    """A deployment's executions are listed by this key (device id, then purpose) on every
    adapter; their cursors carry it."""
    return f"{row.device_id.hex}#{row.purpose}"


@dataclass(frozen=True)
class DeploymentFilter:
    status: DeploymentStatus | None = None
    firmware_id: UUID | None = None
    device_id: UUID | None = None  # deployments with an execution for this device

    def matches(self, row: DeploymentRow) -> bool:
        """The status and firmware conditions (the device one needs the executions)."""
        return (self.status is None or row.status is self.status) and (
            self.firmware_id in (None, row.firmware_id)
        )


class DeploymentsReader(ABC):
    """Port: queries over the deployments model; another tenant's rows are never returned."""

    @abstractmethod
    def get(self, tenant_id: str, deployment_id: UUID) -> DeploymentRow | None: ...

    @abstractmethod
    def deployments(
        self, tenant_id: str, criteria: DeploymentFilter, first: int, after: str | None
    ) -> Page[DeploymentRow]:
        """Deployments matching `criteria`, newest created first."""

    @abstractmethod
    def execution(self, tenant_id: str, execution_id: UUID) -> ExecutionRow | None: ...

    @abstractmethod
    def executions(
        self,
        tenant_id: str,
        deployment_id: UUID,
        state: ExecutionState | None,
        first: int,
        after: str | None,
    ) -> Page[ExecutionRow]:
        """A deployment's executions (in `state`, if given), by device id then purpose."""

    @abstractmethod
    def device_executions(
        self, tenant_id: str, device_id: UUID, first: int, after: str | None
    ) -> Page[ExecutionRow]:
        """A device's executions of every deployment, newest queued first."""

    @abstractmethod
    def history(self, tenant_id: str, execution_id: UUID) -> list[TransitionRow]:
        """An execution's transitions, oldest first (empty for an unknown execution)."""

    @abstractmethod
    def device_compliance(self, tenant_id: str, device_id: UUID) -> DeviceComplianceRow | None: ...

    @abstractmethod
    def compliance(self, tenant_id: str, device_type: str | None) -> list[ComplianceRow]:
        """Per device type (only `device_type`, if given) of the tenant's devices."""


@dataclass
class DeploymentsChanges:
    """Rows a run of events changed, for `DeploymentsView.commit`: the rows and the history
    entries one part must write together (an execution's row and the deployment counts its
    transition moved are in the same part)."""

    deployments: list[DeploymentRow] = field(default_factory=list)
    executions: list[ExecutionRow] = field(default_factory=list)
    transitions: list[TransitionRow] = field(default_factory=list)
    devices: list[DeviceComplianceRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.deployments or self.executions or self.transitions or self.devices)

    def size(self) -> int:
        return (
            len(self.deployments) + len(self.executions) + len(self.transitions) + len(self.devices)
        )


class DeploymentsView(ABC):
    """Port for the projection's writes: rows and checkpoint commit together."""

    @abstractmethod
    def commit(self, parts: Sequence[DeploymentsChanges], tracking: Tracking) -> None:
        """Upsert the parts' rows and record `tracking`. SQLite writes everything in one
        transaction; DynamoDB one transaction per part (each part's rows together, each row
        only over an older one), the checkpoint riding on the last."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""
