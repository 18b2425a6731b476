"""The Device aggregate: registration, updates and decommissioning of one device.

Invariants are checked in the public methods; state changes only in the `@event` methods, which
the library also replays when the aggregate is loaded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from write_side.errors import AlreadyDecommissioned
from write_side.event_names import event_name, name_of


class Device(Aggregate):
    """One device of one tenant."""

    @event("Registered")
    def __init__(
        self,
        tenant_id: str,
        name: str,
        device_type: str,
        tags: list[str],
        metadata: dict[str, str],
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.device_type = device_type
        self.tags = list(tags)
        self.metadata = dict(metadata)
        self.decommissioned_at: datetime | None = None
        self.decommission_reason: str | None = None
        self.credential_id: str | None = None
        self.credential_hash: str | None = None

    @property
    def is_decommissioned(self) -> bool:
        return self.decommissioned_at is not None

    def update(
        self,
        *,
        name: str | None = None,
        device_type: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> bool:
        """Apply the given changes; returns False (records nothing) when nothing changes."""
        self._refuse_if_decommissioned()
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("name", name),
                ("device_type", device_type),
                ("tags", tags),
                ("metadata", metadata),
            )
            if value is not None and value != getattr(self, key)
        }
        if not changes:
            return False
        self._updated(
            name=changes.get("name"),
            device_type=changes.get("device_type"),
            tags=changes.get("tags"),
            metadata=changes.get("metadata"),
        )
        return True

    def decommission(self, reason: str | None) -> None:
        self._refuse_if_decommissioned()
        self.trigger_event(self.Decommissioned, reason=reason)

    def _refuse_if_decommissioned(self) -> None:
        if self.is_decommissioned:
            raise AlreadyDecommissioned(f"device {self.id} is decommissioned")

    @event("Updated")
    def _updated(
        self,
        name: str | None,
        device_type: str | None,
        tags: list[str] | None,
        metadata: dict[str, str] | None,
    ) -> None:
        if name is not None:
            self.name = name
        if device_type is not None:
            self.device_type = device_type
        if tags is not None:
            self.tags = list(tags)
        if metadata is not None:
            self.metadata = dict(metadata)

    class Decommissioned(Aggregate.Event):
        reason: str | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Device)
            aggregate.decommissioned_at = self.timestamp  # the event's own time
            aggregate.decommission_reason = self.reason

    # Credentials (issue 4): the token itself is never stored, only its hash.

    def issue_credential(self, credential_id: str, credential_hash: str) -> None:
        """Record a new credential; it replaces any previous one (rotation)."""
        self._refuse_if_decommissioned()
        self._credential_issued(
            credential_id=credential_id, credential_hash=credential_hash, algorithm="sha256"
        )

    def revoke_credential(self, reason: str | None) -> bool:
        """Revoke the current credential; False (records nothing) when there is none."""
        if self.credential_id is None:
            return False
        self._credential_revoked(credential_id=self.credential_id, reason=reason)
        return True

    @event("CredentialIssued")
    def _credential_issued(self, credential_id: str, credential_hash: str, algorithm: str) -> None:
        self.credential_id = credential_id
        self.credential_hash = credential_hash

    @event("CredentialRevoked")
    def _credential_revoked(self, credential_id: str, reason: str | None) -> None:
        self.credential_id = None
        self.credential_hash = None


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
DEVICE_REGISTERED = event_name(Device, "Registered")
DEVICE_UPDATED = event_name(Device, "Updated")
DEVICE_CREDENTIAL_ISSUED = event_name(Device, "CredentialIssued")
DEVICE_CREDENTIAL_REVOKED = event_name(Device, "CredentialRevoked")
DEVICE_DECOMMISSIONED = name_of(Device.Decommissioned)
DEVICE_EVENTS = (
    DEVICE_REGISTERED,
    DEVICE_UPDATED,
    DEVICE_CREDENTIAL_ISSUED,
    DEVICE_CREDENTIAL_REVOKED,
    DEVICE_DECOMMISSIONED,
)
