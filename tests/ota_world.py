"""A small OTA history recorded through the real services on one store, for the read-model
tests: two releases of `pump` (one withdrawn later), one of `valve`, four devices, a
deployment whose three executions end SUCCEEDED, FAILED (a retry due) and QUEUED, telemetry
of two devices (one reports a firmware version), and a second
tenant with a release and a deployment of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from event_store.envelope import EventEnvelope, EventMetadata
from tests.ota_clock import Clock
from write_side.application import FleetApplication
from write_side.commands import RegisterDevice
from write_side.deployment_commands import ReportUpdate, parse_create_deployment
from write_side.deployment_service import DeploymentService, QueueExecution
from write_side.deployments import Deployment
from write_side.device_service import DeviceService
from write_side.firmware_commands import PublishFirmware, WithdrawFirmware
from write_side.firmware_service import FirmwareService
from write_side.telemetry import BatchEntry, StatusReport
from write_side.telemetry_log import Telemetry

ADMIN = EventMetadata("acme", "user:alice")
OTA = EventMetadata("acme", "system:ota")
OTHER_ADMIN = EventMetadata("globex", "user:gus")


@dataclass
class OtaWorld:
    app: FleetApplication
    clock: Clock = field(default_factory=Clock)
    releases: dict[str, UUID] = field(default_factory=dict)
    devices: list[UUID] = field(default_factory=list)
    executions: list[UUID] = field(default_factory=list)
    deployment: UUID | None = None

    def __post_init__(self) -> None:
        self.firmware = FirmwareService(self.app, self.clock)
        self.service = DeploymentService(self.app, self.firmware, self.clock, lambda: 42)

    def publish(self, version: str, types: list[str], meta: EventMetadata = ADMIN) -> UUID:
        command = PublishFirmware(
            version=version,
            device_types=types,
            filename=f"fw-{version}.bin",
            size_bytes=1024,
            sha256=f"{len(self.releases):02x}" * 32,
        )
        saved = self.firmware.publish(command, meta)
        self.releases[f"{meta.tenant_id}/{version}"] = saved.aggregate.id
        return saved.aggregate.id

    def record(self) -> None:
        devices = DeviceService(self.app)
        self.publish("1.0.0", ["pump"])
        self.publish("1.2.0", ["pump"])
        self.publish("2.0.0-rc.1", ["pump", "valve"])
        for i, kind in enumerate(["pump", "pump", "pump", "valve"]):
            device = RegisterDevice(name=f"d{i}", device_type=kind, tags=["north"])
            self.devices.append(devices.register(device, ADMIN).aggregate.id)
        data = {
            "name": "pumps to 1.2.0",
            "firmwareId": str(self.releases["acme/1.2.0"]),
            "target": {"tags": ["north"], "deviceTypes": ["pump"]},
            "waves": [{"count": 2}, {}],
        }
        created = self.service.create(parse_create_deployment(data), ADMIN).aggregate
        self.deployment = created.id
        self._start(created, members=2)
        for device in self.devices[:3]:
            spec = QueueExecution(created.id, device, 0, "1.0.0")
            self.executions.append(self.service.queue(spec, OTA).aggregate.id)
        for execution in self.executions[:2]:
            self.clock.tick()
            self.service.notify(execution, "mqtt", OTA)
        first, second = self.executions[:2]
        self.report(first, self.devices[0], 1, "downloading", percent=50)
        self.report(first, self.devices[0], 2, "installing")
        self.report(first, self.devices[0], 3, "succeeded", version="1.2.0")
        self.report(second, self.devices[1], 1, "failed", kind="verify", reason="bad hash")
        self.telemetry(self.devices[3], "2.0.0-rc.1")
        self.telemetry(self.devices[2], None)  # no version: compliance reads no row for it
        self.firmware.withdraw(WithdrawFirmware(firmware_id=self.releases["acme/1.0.0"]), ADMIN)
        other = self.publish("9.9.9", ["pump"], OTHER_ADMIN)
        other_data = {"name": "g", "firmwareId": str(other), "target": {"tags": ["x"]}}
        self.service.create(parse_create_deployment(other_data), OTHER_ADMIN)

    def _start(self, deployment: Deployment, members: int) -> None:
        deployment.start(self.clock.tick(), 3)
        deployment.start_wave(0, members, self.clock())
        self.app.commit(deployment, OTA)

    def report(self, execution: UUID, device: UUID, seq: int, status: str, **more: object) -> None:
        body = {"device_id": device, "execution_id": execution, "seq": seq, "status": status}
        update = ReportUpdate.model_validate(body | {"at": self.clock.tick(300)} | more)
        self.service.report_update(update, EventMetadata("acme", f"device:{device}"))

    def telemetry(self, device: UUID, version: str | None) -> None:
        stream = Telemetry("acme", device)
        at = self.clock.tick()
        entry = BatchEntry(f"m{at.timestamp()}", at, (), StatusReport(firmware_version=version))
        stream.record([entry], at, "http")
        self.app.save_telemetry([stream], EventMetadata("acme", f"device:{device}"))

    def envelopes(self) -> list[EventEnvelope]:
        notifications = self.app.recorder.select_notifications(start=1, limit=10_000)
        return [self.app.envelope_mapper.to_envelope(n) for n in notifications]
