"""Set-up of the OTA orchestrator tests: the application on a store (embedded SQLite by
default), a settable clock, devices registered through `DeviceService`, versions reported in
telemetry (a `Telemetry.BatchRecorded` of a status entry), deployments created through the
`DeploymentService`, and the orchestrator driven by its worker's `catch_up` and by `fire`
with an in-memory `TimerStore` (the port's contract, not the code under test)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from event_store.envelope import EventMetadata
from ota.schedule import Timer, TimerStore
from projections.ota import OtaProcess
from projections.ota_worker import OtaWorker
from tests.ota_clock import Clock
from tests.unit.deployment_fixtures import OPERATOR
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.deployment_commands import ReportUpdate, parse_create_deployment
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_service import DeploymentService
from write_side.deployment_states import ExecutionState
from write_side.deployments import Deployment
from write_side.device_service import DeviceService
from write_side.firmware_commands import PublishFirmware, WithdrawFirmware
from write_side.firmware_service import FirmwareService
from write_side.telemetry import BatchEntry, StatusReport
from write_side.telemetry_log import Telemetry, telemetry_id

DEVICE_META = EventMetadata("acme", "device:test")


@dataclass
class MemoryTimers:
    """`TimerStore` as a dict keyed by the timer's key."""

    rows: dict[str, Timer] = field(default_factory=dict)

    def schedule(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.rows.setdefault(timer.key, timer)

    def due(self, now: datetime, limit: int) -> list[Timer]:
        return sorted(t for t in self.rows.values() if t.due_at <= now)[:limit]

    def done(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.rows.pop(timer.key, None)


@dataclass
class OtaWorld:
    app: FleetApplication
    clock: Clock
    releases: FirmwareService
    service: DeploymentService
    devices: DeviceService
    timers: MemoryTimers
    worker: OtaWorker
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    versions: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def build(cls, env: dict[str, str] | None = None) -> OtaWorld:
        return cls.on(FleetApplication(env=env))

    @classmethod
    def on(cls, app: FleetApplication) -> OtaWorld:
        clock = Clock()
        releases = FirmwareService(app, clock)
        service = DeploymentService(app, releases, clock, lambda: 7)
        timers = MemoryTimers()
        world = cls(app, clock, releases, service, DeviceService(app), timers, None)  # type: ignore[arg-type]
        world.worker = world.new_worker()
        return world

    def new_worker(
        self, upstream: str | None = None, timers: TimerStore | None = None
    ) -> OtaWorker:
        """A fresh orchestrator on the same store (a restart); another `upstream` name: one
        with no checkpoint, which replays the whole feed."""
        process = OtaProcess(
            self.service,
            self.app.factory.process_recorder(),
            timers or self.timers,
            clock=self.clock,
        )
        worker = OtaWorker(
            process, recorder=self.app.recorder, mapper=self.app.envelope_mapper,
            upstream_name=upstream or self.app.name,
        )  # fmt: skip
        worker.resume()
        return worker

    @property
    def process(self) -> OtaProcess:
        return self.worker.projection

    def pump(self) -> None:
        """Let the orchestrator follow the feed until it decides nothing more."""
        for _ in range(50):
            head = self.app.recorder.max_notification_id() or 0
            self.worker.catch_up()
            if (self.app.recorder.max_notification_id() or 0) == head:
                return
        raise AssertionError("the orchestrator does not settle")

    def fire_due(self) -> None:
        """The timer loop: fire what is due at the clock's time, then follow the feed."""
        due = self.timers.due(self.clock(), 1000)
        self.process.fire(due, self.clock())
        self.timers.done(due)
        self.pump()

    def register(
        self, device_type: str = "pump", tags: Sequence[str] = ("north",), **metadata: str
    ) -> UUID:
        command = RegisterDevice(
            name="d", device_type=device_type, tags=list(tags), metadata=metadata
        )
        return self.devices.register(command, OPERATOR).aggregate.id

    def retag(self, device_id: UUID, tags: Sequence[str]) -> None:
        self.devices.update(UpdateDevice(device_id=device_id, tags=list(tags)), OPERATOR)

    def report_version(self, device_id: UUID, version: str) -> None:
        """A telemetry status entry carrying `firmware_version`."""
        telemetry = self.app.find(Telemetry, "acme", telemetry_id("acme", device_id))
        telemetry = telemetry or Telemetry("acme", device_id)
        entry = BatchEntry(
            uuid.uuid4().hex, self.clock(), (), StatusReport(firmware_version=version)
        )
        telemetry.record([entry], self.clock(), "http")
        self.app.commit(telemetry, DEVICE_META)

    def release(
        self, types: Sequence[str] = ("pump",), revisions: Sequence[str] | None = None
    ) -> UUID:
        """A published release of the next version (2.1.0, 2.2.0, ...) for `types` (and the
        hardware `revisions`, if given)."""
        version = f"2.{next(self.versions)}.0"
        command = PublishFirmware(
            version=version, device_types=list(types), filename="fw.bin", size_bytes=1024,
            sha256="ab" * 32, hardware_revisions=None if revisions is None else list(revisions),
        )  # fmt: skip
        return self.releases.publish(command, OPERATOR).aggregate.id

    def withdraw(self, firmware_id: UUID) -> None:
        self.releases.withdraw(WithdrawFirmware(firmware_id=firmware_id), OPERATOR)

    def create(
        self, target: dict[str, Any] | None = None, firmware: UUID | None = None, **fields: Any
    ) -> UUID:
        firmware = firmware or self.release()
        data = {
            "name": "pumps",
            "firmwareId": str(firmware),
            "target": target or {"tags": ["north"]},
        }
        command = parse_create_deployment(data | fields)
        return self.service.create(command, OPERATOR).aggregate.id

    def update(self, execution_id: UUID, status: str, **fields: Any) -> None:
        execution = self.execution(execution_id)
        body = {
            "device_id": execution.device_id, "execution_id": execution_id,
            "seq": next(self.seq), "status": status, "at": self.clock(),
        }  # fmt: skip
        meta = EventMetadata("acme", f"device:{execution.device_id}")
        self.service.report_update(ReportUpdate.model_validate(body | fields), meta)

    def target_version(self, deployment_id: UUID) -> str:
        return self.deployment(deployment_id).firmware_version

    def deployment(self, deployment_id: UUID) -> Deployment:
        return self.service.get("acme", deployment_id)

    def execution(self, execution_id: UUID) -> DeploymentExecution:
        return self.service.get_execution("acme", execution_id)

    def executions(self, deployment_id: UUID) -> dict[UUID, DeploymentExecution]:
        facts = self.process.state.deployments[deployment_id].executions
        return {e: self.execution(e) for e in facts}

    def states(self, deployment_id: UUID, purpose: str = "install") -> dict[UUID, ExecutionState]:
        return {
            e.device_id: e.execution.state
            for e in self.executions(deployment_id).values()
            if e.purpose == purpose
        }

    def notified_events(self) -> list[tuple[UUID, int]]:
        """Every `Notified` recorded: (execution, attempt)."""
        found = []
        for notification in self.app.recorder.select_notifications(start=0, limit=100_000):
            if notification.topic.endswith("DeploymentExecution.Notified"):
                envelope = self.app.envelope_mapper.to_envelope(notification)
                found.append((UUID(envelope.stream_id), int(envelope.payload["attempt"])))
        return found
