"""The write-side application: load, decide, save. One method per command.

Built on the `eventsourcing` Application; persistence is chosen by its environment (see
`fleetwatch.bootstrap`), so the same code runs on SQLite and on DynamoDB.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import IntegrityError, Mapper, OperationalError, Transcoder

from event_store.envelope import EnvelopeMapper, EventMetadata, recording_as
from event_store.transcoder import FastJSONTranscoder
from write_side.commands import DecommissionDevice, RegisterDevice, UpdateDevice
from write_side.credentials import (
    HEARTBEAT_METADATA_KEY,
    DeviceAccess,
    IssueDeviceCredential,
    RevokeDeviceCredential,
    new_credential,
)
from write_side.devices import Device
from write_side.errors import ConcurrencyConflict, NotFound
from write_side.telemetry_log import SNAPSHOT_INTERVAL, Telemetry

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedCredential:
    """The device as saved with its new credential, and the token: shown once, never stored."""

    saved: Saved[Device]
    token: str


@dataclass(frozen=True)
class Saved(Generic[A]):
    """A command's outcome: the aggregate as saved, and the feed position of its last event
    (0 when the command changed nothing), which read-your-writes callers can wait for."""

    aggregate: A
    position: int


class FleetApplication(Application[UUID]):
    """Commands for the device registry (alerts, firmware and users join as they are built)."""

    name = "Fleetwatch"

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()  # the library's format, decoded faster
        self.register_transcodings(transcoder)
        return transcoder

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

    # Credentials and telemetry (issue 4). The telemetry command handler is
    # `write_side.ingestion.TelemetryIngestion`; these are the store operations it needs.

    def issue_device_credential(
        self, command: IssueDeviceCredential, meta: EventMetadata
    ) -> IssuedCredential:
        device = self.get_device(meta.tenant_id, command.device_id)
        credential = new_credential(device.id)
        device.issue_credential(credential.credential_id, credential.credential_hash)
        return IssuedCredential(self._save(device, meta), credential.token)

    def revoke_device_credential(
        self, command: RevokeDeviceCredential, meta: EventMetadata
    ) -> Saved[Device]:
        device = self.get_device(meta.tenant_id, command.device_id)
        changed = device.revoke_credential(command.reason)
        return self._save(device, meta) if changed else Saved(device, 0)

    def device_access(self, device_id: UUID) -> DeviceAccess | None:
        """What ingestion needs to authenticate the device (any tenant: the credential or the
        certificate says which); None when no such device exists."""
        try:
            device: Aggregate = self.repository.get(device_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(device, Device):
            return None
        timeout = device.metadata.get(HEARTBEAT_METADATA_KEY, "")
        return DeviceAccess(
            device_id=device.id,
            tenant_id=device.tenant_id,
            decommissioned=device.is_decommissioned,
            credential_id=device.credential_id,
            credential_hash=device.credential_hash,
            heartbeat_timeout_s=_positive_seconds(timeout),
        )

    @cached_property
    def telemetry_repository(self) -> Repository[UUID]:
        """Telemetry streams, loaded from their latest snapshot (the rest of the application
        does not pay a snapshot lookup per load)."""
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        snapshots = self.factory.event_store(mapper=self.mapper, recorder=recorder)
        return Repository(event_store=self.events, snapshot_store=snapshots)

    def load_telemetry(self, stream_id: UUID) -> Telemetry | None:
        try:
            telemetry: Aggregate = self.telemetry_repository.get(stream_id)
        except AggregateNotFoundError:
            return None
        return telemetry if isinstance(telemetry, Telemetry) else None

    def save_telemetry(self, streams: Sequence[Telemetry], meta: EventMetadata) -> dict[UUID, int]:
        """Save the streams' pending events in ONE `insert_events` call (one transaction);
        returns each stream's feed position. A lost race raises the store's IntegrityError
        (the caller reloads and retries); then the in-memory streams must be discarded."""
        before = {t.id: t.version - len(t.pending_events) for t in streams}
        events = [event for t in streams for event in t.collect_events()]
        with recording_as(meta):  # (`save` would also run isinstance checks per event)
            recordings = self.events.put(events)
        positions: dict[UUID, int] = {}
        for recording in recordings:
            if recording.notification.id is not None:
                stream = recording.domain_event.originator_id
                positions[stream] = max(positions.get(stream, 0), recording.notification.id)
        self._snapshot_telemetry(
            [
                t
                for t in streams
                if t.version // SNAPSHOT_INTERVAL > before[t.id] // SNAPSHOT_INTERVAL
            ],
            meta,
        )
        return positions

    def _snapshot_telemetry(self, streams: Sequence[Telemetry], meta: EventMetadata) -> None:
        """Snapshots from the in-memory state just saved (no reload); a snapshot another process
        already took is fine, a failed one only costs a longer load later."""
        store = self.telemetry_repository.snapshot_store
        if not streams or store is None:
            return
        try:
            with recording_as(meta):
                store.put([Snapshot.take(t) for t in streams])
        except (IntegrityError, OperationalError) as e:
            log.info("telemetry snapshots not stored: %s", e)


def _check_expected_version(device: Device, expected: int | None) -> None:
    if expected is not None and expected != device.version:
        raise ConcurrencyConflict(
            f"device {device.id} is at version {device.version}, not {expected}",
            expected=expected,
            actual=device.version,
        )


def _positive_seconds(value: str) -> int | None:
    """A device's own heartbeat timeout from its metadata; None when absent or not a plain
    positive whole number of seconds (ASCII digits, at most a year)."""
    if not (value.isascii() and value.isdigit()):
        return None
    seconds = int(value)
    return seconds if 0 < seconds <= 366 * 24 * 3600 else None
