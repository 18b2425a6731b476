"""Shared set-up of the deployment service tests: an in-memory application, a firmware port
holding releases in a dict (the port, not the code under test), a settable clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from event_store.envelope import EventMetadata
from tests.ota_clock import Clock
from write_side.application import FleetApplication
from write_side.deployment_commands import parse_create_deployment
from write_side.deployment_ports import FirmwareRelease
from write_side.deployment_service import DeploymentService, QueueExecution
from write_side.deployment_states import ExecutionState
from write_side.deployments import Deployment

OPERATOR = EventMetadata("acme", "user:olga")
ORCHESTRATOR = EventMetadata("acme", "system:ota")
TARGET, OLD, OTHER = "2.0.0", "1.0.0", "1.5.0"


@dataclass
class Releases:
    """The `FirmwareReleases` port as a dict."""

    items: dict[tuple[str, UUID], FirmwareRelease] = field(default_factory=dict)

    def add(
        self, status: str = "AVAILABLE", tenant: str = "acme", types: tuple[str, ...] = ("pump",)
    ) -> UUID:
        release = FirmwareRelease(
            uuid.uuid4(), tenant, TARGET, types, (), status, "ab" * 32, 1024, None, None
        )
        self.items[(tenant, release.id)] = release
        return release.id

    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRelease | None:
        return self.items.get((tenant_id, firmware_id))


@dataclass
class World:
    app: FleetApplication
    releases: Releases
    clock: Clock
    service: DeploymentService

    @classmethod
    def build(cls) -> World:
        app, releases, clock = FleetApplication(), Releases(), Clock()
        return cls(app, releases, clock, DeploymentService(app, releases, clock, lambda: 7))

    def stored(self) -> int:
        """How many events the store holds (errors must not change it)."""
        return self.app.recorder.max_notification_id() or 0

    def create(self, **fields: Any) -> Deployment:
        firmware = self.releases.add()
        data = {"name": "pumps", "firmwareId": str(firmware), "target": {"tags": ["north"]}}
        command = parse_create_deployment(data | fields)
        return self.service.create(command, OPERATOR).aggregate

    def running(self, **fields: Any) -> Deployment:
        """A created deployment, started with its first wave (the orchestrator's part)."""
        deployment = self.create(**fields)
        deployment.start(self.clock(), 10)
        deployment.start_wave(0, 10, self.clock())
        return self.app.commit(deployment, ORCHESTRATOR).aggregate

    def queued(self, deployment: Deployment, device: UUID, wave: int = 0) -> UUID:
        spec = QueueExecution(deployment.id, device, wave, OLD)
        return self.service.queue(spec, ORCHESTRATOR).aggregate.id

    def notified(self, deployment: Deployment, device: UUID) -> UUID:
        execution = self.queued(deployment, device)
        self.service.notify(execution, "mqtt", ORCHESTRATOR)
        return execution

    def state(self, execution: UUID) -> ExecutionState:
        return self.service.get_execution("acme", execution).execution.state
