"""The auditors' slice on the write side (docs/audit.md 19.2, 19.3): an entity as of a past
point, rebuilt by replaying its stream up to that point with the aggregate's own code (the
library's `repository.get(id, version=...)`); and the record of each read of the trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication, Saved
from write_side.audit_reads import TrailRead
from write_side.entity_kinds import KIND_AGGREGATES, EntityKind
from write_side.errors import DomainError, InvalidInput, NotFound


class NotYetCreated(DomainError):
    """An as-of before the entity's first event: it did not exist then (it does now)."""

    code = "NOT_YET_CREATED"


@dataclass(frozen=True)
class AsOf:
    """An aggregate as it was: at `version`, its latest event recorded at `recorded_at`;
    `latest_version` is the stream's version now."""

    kind: EntityKind
    aggregate: Aggregate
    version: int
    recorded_at: datetime
    latest_version: int


class AuditService:
    def __init__(self, app: FleetApplication) -> None:
        self.app = app

    def as_of(
        self,
        kind: EntityKind,
        tenant_id: str,
        entity_id: UUID,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> AsOf:
        """The `kind` entity of the tenant as of `version` or recorded instant `at` (exactly
        one). `NotFound` when it is none of the tenant's (another tenant's included);
        `NotYetCreated` when `at` is before its first event."""
        if (version is None) == (at is None):
            raise InvalidInput("give exactly one of version and at", field="at")
        if version is not None and version < 1:
            raise InvalidInput("version must be at least 1", field="version")
        latest = self._find(kind, tenant_id, entity_id, None)
        if version is not None and version > latest.version:
            message = f"version {version} is after the latest, {latest.version}"
            raise InvalidInput(message, field="version")
        target, recorded = self._version_at(entity_id, version, at)
        if target == 0:
            assert at is not None
            raise NotYetCreated(
                f"{kind} {entity_id} did not exist at {at.isoformat()}: its first event was "
                f"recorded at {recorded.isoformat()}"
            )
        state = (
            latest if target == latest.version else self._find(kind, tenant_id, entity_id, target)
        )
        return AsOf(kind, state, target, recorded, latest.version)

    def record_read(
        self, meta: EventMetadata, operation: str, criteria: dict[str, Any], returned: int
    ) -> Saved[TrailRead]:
        """Record that `meta.actor` read the trail (one new stream per read)."""
        read = TrailRead(meta.tenant_id, meta.actor, operation, criteria, returned)
        return self.app.commit(read, meta)

    def _find(
        self, kind: EntityKind, tenant_id: str, entity_id: UUID, version: int | None
    ) -> Aggregate:
        for cls in KIND_AGGREGATES[kind]:
            found = self.app.find(cls, tenant_id, entity_id, version)
            if found is not None:
                return found
        raise NotFound(f"{kind} {entity_id} not found")

    def _version_at(
        self, entity_id: UUID, version: int | None, at: datetime | None
    ) -> tuple[int, datetime]:
        """The version to show and when its event was recorded: `version` itself, or the last
        of the stream's prefix recorded at or before `at` (0 and the first event's time when
        none was)."""
        mapper = self.app.envelope_mapper
        stored = self.app.recorder.select_events(entity_id, lte=version)
        envelopes = [mapper.to_envelope(event) for event in stored]
        if at is None:
            return envelopes[-1].version, envelopes[-1].recorded_at
        limit = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        shown = 0, envelopes[0].recorded_at
        for envelope in envelopes:
            if envelope.recorded_at > limit:
                break
            shown = envelope.version, envelope.recorded_at
        return shown
