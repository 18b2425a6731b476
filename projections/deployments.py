"""The deployments projection (docs/firmware.md section 12.7): `Deployment.*`,
`DeploymentExecution.*`, `Device.Registered/Updated` and `Telemetry.BatchRecorded` into the
deployments model (`read_side.deployments`): the deployment rows with their counts per state
per wave and their decisions, the execution rows and their history, and per device what fleet
compliance reads.

`evolve_*` are pure (`projections.deployment_evolve`, `projections.execution_evolve`). A
deployment's counts depend on many execution streams; they are kept exact by moving them with
each transition, decided from the execution's row (its last state), and by never committing an
execution's row without the deployment row it moved: the batch is cut into parts (at most
`PART_ROWS` rows each) in feed order, each part holding the rows its events changed as they
stand after its last event, so every prefix of committed parts is the model at one feed
position. SQLite commits all parts in one transaction; DynamoDB one per part, the checkpoint on
the last, every row guarded (executions by stream version, deployments and devices by feed
position), so a replay after a crash between parts skips what a part wrote, row and counts
alike. One `deployment` notice per deployment event and per execution event that moved one.
The checkpoint is committed for every batch, also when nothing changed (most telemetry batches
report no firmware version): another process waits on it for every event this handles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.deployment_evolve import DEPLOYMENT_TYPES, count_move, evolve_deployment
from projections.execution_evolve import (
    EXECUTION_TYPES,
    evolve_device,
    evolve_execution,
    reports_version,
)
from projections.runner import event_topics
from read_side.deployments import (
    DEPLOYMENT_TOPIC,
    DeploymentRow,
    DeploymentsChanges,
    DeploymentsReader,
    DeploymentsView,
    DeviceComplianceRow,
    ExecutionRow,
)
from read_side.deployments.records import progress_data
from read_side.notifications import ChangeNotice
from write_side.deployment_executions import DeploymentExecution
from write_side.deployments import Deployment
from write_side.devices import DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.event_names import topics
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

DEVICE_TOPICS = topics((DEVICE_REGISTERED, DEVICE_UPDATED, TELEMETRY_BATCH_RECORDED))
DEVICE_TYPES = frozenset({DEVICE_REGISTERED.type, DEVICE_UPDATED.type})
OWN_TOPICS = frozenset(event_topics(Deployment, DeploymentExecution))
PART_ROWS = 90  # rows per part (DynamoDB: one transaction holds 100 actions)
Key = tuple[str, UUID]
_KINDS = ("deployments", "executions", "devices")


class DeploymentsProjection:
    name = "deployments"

    def __init__(self, view: DeploymentsView, reader: DeploymentsReader) -> None:
        self.view = view
        self.reader = reader
        candidates = [*event_topics(Deployment, DeploymentExecution), *sorted(DEVICE_TOPICS)]
        self.topics = tuple(t for t in candidates if self.handles(t))

    def handles(self, topic: str) -> bool:
        return topic in OWN_TOPICS or topic in DEVICE_TOPICS

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        batch = _Batch(self.reader)
        notices = [n for e in envelopes if (n := batch.apply(e)) is not None]
        self.view.commit(batch.parts(), tracking)  # also none: the checkpoint must move
        return notices


class _Batch:
    """The rows a batch changes, read once each and then kept in memory, cut into parts."""

    def __init__(self, reader: DeploymentsReader) -> None:
        self.reader = reader
        self.deployments: dict[Key, DeploymentRow | None] = {}
        self.executions: dict[Key, ExecutionRow | None] = {}
        self.devices: dict[Key, DeviceComplianceRow | None] = {}
        self.done: list[DeploymentsChanges] = []
        self._open()

    def _open(self) -> None:
        self.dirty: dict[str, set[Key]] = {
            "deployments": set(),
            "executions": set(),
            "devices": set(),
        }
        self.part = DeploymentsChanges()

    def apply(self, envelope: EventEnvelope) -> ChangeNotice | None:
        notice = self._apply(envelope)
        if sum(map(len, self.dirty.values())) + len(self.part.transitions) >= PART_ROWS:
            self._close()
        return notice

    def _apply(self, envelope: EventEnvelope) -> ChangeNotice | None:
        tenant, kind = envelope.tenant_id, envelope.type
        if kind in DEPLOYMENT_TYPES:
            key = (tenant, UUID(envelope.stream_id))
            row = evolve_deployment(self._deployment(key), envelope)
            if row is None:
                return None
            self._set("deployments", self.deployments, key, row)
            return _notice(envelope, row, None)
        if kind in EXECUTION_TYPES:
            return self._execution(envelope)
        if kind not in DEVICE_TYPES and not reports_version(envelope.payload):
            return None  # most telemetry: no row to read
        device_id = envelope.payload.get("device_id") if kind not in DEVICE_TYPES else None
        key = (tenant, UUID(str(device_id or envelope.stream_id)))
        device = evolve_device(self._device(key), envelope)
        if device is not None:
            self._set("devices", self.devices, key, device)
        return None

    def _execution(self, envelope: EventEnvelope) -> ChangeNotice | None:
        key = (envelope.tenant_id, UUID(envelope.stream_id))
        if key not in self.executions:
            self.executions[key] = self.reader.execution(*key)
        result = evolve_execution(self.executions[key], envelope)
        if result is None:
            return None
        execution, transition, move = result
        self._set("executions", self.executions, key, execution)
        self.part.transitions.append(transition)
        device_key = (envelope.tenant_id, execution.device_id)
        device = evolve_device(self._device(device_key), envelope, execution)
        if device is not None:
            self._set("devices", self.devices, device_key, device)
        deployment_key = (envelope.tenant_id, execution.deployment_id)
        deployment = self._deployment(deployment_key)
        if deployment is None:
            return None  # its deployment was never created (cannot happen in feed order)
        deployment = count_move(deployment, envelope, move)
        self._set("deployments", self.deployments, deployment_key, deployment)
        return _notice(envelope, deployment, execution)

    def _set(self, kind: str, rows: dict[Key, Any], key: Key, row: Any) -> None:
        rows[key] = row
        self.dirty[kind].add(key)

    def _deployment(self, key: Key) -> DeploymentRow | None:
        if key not in self.deployments:
            self.deployments[key] = self.reader.get(*key)
        return self.deployments[key]

    def _device(self, key: Key) -> DeviceComplianceRow | None:
        if key not in self.devices:
            self.devices[key] = self.reader.device_compliance(*key)
        return self.devices[key]

    def _close(self) -> None:
        part = self.part
        part.deployments = [r for k in self.dirty["deployments"] if (r := self.deployments[k])]
        part.executions = [e for k in self.dirty["executions"] if (e := self.executions[k])]
        part.devices = [d for k in self.dirty["devices"] if (d := self.devices[k])]
        if part:
            self.done.append(part)
        self._open()

    def parts(self) -> list[DeploymentsChanges]:
        self._close()
        return self.done


def _notice(
    envelope: EventEnvelope, deployment: DeploymentRow, execution: ExecutionRow | None
) -> ChangeNotice:
    return ChangeNotice(
        tenant_id=deployment.tenant_id,
        topic=DEPLOYMENT_TOPIC,
        key=str(deployment.deployment_id),
        position=envelope.position or 0,
        event_type=envelope.type,
        data=progress_data(deployment, execution),
    )
