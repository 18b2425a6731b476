"""The write-side application: load, decide, save. One method per command.

Built on the `eventsourcing` Application; persistence is chosen by its environment (see
`fleetwatch.bootstrap`), so the same code runs on SQLite and on DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper

from event_store.envelope import EnvelopeMapper, EventMetadata, recording_as
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.devices import Device
from write_side.errors import ConcurrencyConflict, NotFound

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Saved(Generic[A]):
    """A command's outcome: the aggregate as saved, and the feed position of its last event
    (0 when the command changed nothing), which read-your-writes callers can wait for."""

    aggregate: A
    position: int


class FleetApplication(Application[UUID]):
    """Commands for the device registry (alerts, firmware and users join as they are built)."""

    name = "Fleetwatch"

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=EnvelopeMapper
        )

    @property
    def envelope_mapper(self) -> EnvelopeMapper:
        assert isinstance(self.mapper, EnvelopeMapper)
        return self.mapper

    def register_device(self, command: RegisterDevice, meta: EventMetadata) -> Saved[Device]:
        device = Device(
            tenant_id=meta.tenant_id,
            name=command.name,
            device_type=command.device_type,
            tags=list(command.tags),
            metadata=dict(command.metadata),
        )
        return self._save(device, meta)

    def update_device(self, command: UpdateDevice, meta: EventMetadata) -> Saved[Device]:
        device = self.get_device(meta.tenant_id, command.device_id)
        _check_expected_version(device, command.expected_version)
        changed = device.update(
            name=command.name,
            device_type=command.device_type,
            tags=None if command.tags is None else list(command.tags),
            metadata=None if command.metadata is None else dict(command.metadata),
        )
        return self._save(device, meta) if changed else Saved(device, 0)

    def decommission_device(
        self, command: DecommissionDevice, meta: EventMetadata
    ) -> Saved[Device]:
        device = self.get_device(meta.tenant_id, command.device_id)
        _check_expected_version(device, command.expected_version)
        device.decommission(command.reason)
        return self._save(device, meta)

    def get_device(self, tenant_id: str, device_id: UUID, version: int | None = None) -> Device:
        """The device as of `version` (latest by default); another tenant's device is not found."""
        try:
            device: Device = self.repository.get(device_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"device {device_id} not found") from None
        if not isinstance(device, Device) or device.tenant_id != tenant_id:
            raise NotFound(f"device {device_id} not found")
        return device

    def _save(self, aggregate: A, meta: EventMetadata) -> Saved[A]:
        with recording_as(meta):
            try:
                recordings = self.save(aggregate)
            except IntegrityError as e:
                raise ConcurrencyConflict(
                    f"{type(aggregate).__name__} {aggregate.id} changed concurrently; "
                    "reload and retry"
                ) from e
        positions = [r.notification.id for r in recordings if r.notification.id is not None]
        return Saved(aggregate, max(positions, default=0))


def _check_expected_version(device: Device, expected: int | None) -> None:
    if expected is not None and expected != device.version:
        raise ConcurrencyConflict(
            f"device {device.id} is at version {device.version}, not {expected}",
            expected=expected,
            actual=device.version,
        )
