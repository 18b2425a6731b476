"""The event envelope: who did what, when, on which stream, for which tenant, and why.

Every stored event carries, next to its payload, the metadata of the command that caused it
(tenant, actor, correlation and causation ids) plus an event id and the time it was recorded.
`EnvelopeMapper` writes it into the stored state under the key `_meta`; the domain never sees it.
`envelope_from_notification` turns a stored event back into an `EventEnvelope` for auditors,
projections and the feed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    Notification,
    StoredEvent,
)
from eventsourcing.utils import get_topic, resolve_topic

from event_store.ids import new_uuid4
from event_store.personal_data import PersonalDataCipher

META_KEY = "_meta"


class MissingEventMetadata(RuntimeError):
    """An event was about to be stored outside `recording_as(...)`: a programming error."""


@dataclass(frozen=True)
class EventMetadata:
    """What a command handler knows about the command it is handling."""

    tenant_id: str
    actor: str  # "user:<subject>", "device:<device id>" or "system:<component>"
    correlation_id: str = field(default_factory=lambda: new_uuid4().hex)
    causation_id: str | None = None


@dataclass(frozen=True)
class EventEnvelope:
    """One recorded event, as auditors and consumers see it."""

    event_id: UUID
    tenant_id: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any]
    position: int | None = None  # position in the ordered feed (the notification id)


_current: ContextVar[EventMetadata | None] = ContextVar("fleetwatch_event_metadata", default=None)


@contextlib.contextmanager
def recording_as(metadata: EventMetadata) -> Iterator[EventMetadata]:
    """Events stored inside this block carry `metadata`."""
    token = _current.set(metadata)
    try:
        yield metadata
    finally:
        _current.reset(token)


def current_metadata() -> EventMetadata:
    metadata = _current.get()
    if metadata is None:
        raise MissingEventMetadata("events must be stored inside recording_as(EventMetadata(...))")
    return metadata


def _now() -> datetime:
    return datetime.now(UTC)


class EnvelopeMapper(Mapper[UUID]):
    """The library's mapper, plus the envelope metadata stored beside each event's state, and
    the personal fields sealed under their subject's key when `personal` is set
    (`event_store.personal_data`; the application sets it)."""

    personal: PersonalDataCipher | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        metadata = current_metadata()
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        topic = get_topic(type(domain_event))
        if self.personal is not None:
            self.personal.seal(topic, originator_id, originator_version, event_state)
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        event_state[META_KEY] = {
            "event_id": new_uuid4().hex,
            "tenant_id": metadata.tenant_id,
            "actor": metadata.actor,
            "correlation_id": metadata.correlation_id,
            "causation_id": metadata.causation_id,
            "recorded_at": _now().isoformat(),
        }
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=self._seal(self.transcoder.encode(event_state)),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        state = self.decode_state(stored_event)
        state.pop(META_KEY, None)
        cls = resolve_topic(stored_event.topic)
        state["originator_id"] = _as_uuid(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return cast(DomainEventProtocol[UUID], domain_event)

    def decode_state(self, stored_event: StoredEvent, *, personal: bool = True) -> dict[str, Any]:
        """The stored state; its personal fields opened unless `personal` is False (None where
        the subject's key was destroyed)."""
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = cast(dict[str, Any], self.transcoder.decode(data))
            if personal and self.personal is not None:
                self.personal.open(
                    stored_event.topic,
                    stored_event.originator_id,
                    stored_event.originator_version,
                    state,
                )
            return state
        except Exception as e:
            msg = (
                f"cannot decode event {stored_event.topic} of stream "
                f"{stored_event.originator_id} version {stored_event.originator_version}: {e}"
            )
            raise MapperDeserialisationError(msg) from e

    def _seal(self, data: bytes) -> bytes:
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return data

    def to_envelope(self, stored_event: StoredEvent) -> EventEnvelope:
        """The envelope of a stored event (with its feed position when it is a Notification)."""
        state = self.decode_state(stored_event)
        meta: dict[str, Any] = state.pop(META_KEY, None) or {}
        schema_version = int(state.pop("class_version", 1))
        timestamp = state.pop("timestamp", None)
        occurred_at = timestamp if isinstance(timestamp, datetime) else _parse(timestamp)
        recorded_at = _parse(meta.get("recorded_at")) or occurred_at
        # Every consumer decodes every event it handles: the frozen dataclass's `__init__` (13
        # fields set through `object.__setattr__`) is skipped, its fields set in one update.
        envelope = object.__new__(EventEnvelope)
        envelope.__dict__.update(
            event_id=UUID(meta["event_id"]) if meta.get("event_id") else _legacy_id(stored_event),
            tenant_id=str(meta.get("tenant_id", "")),
            stream_id=str(stored_event.originator_id),
            version=stored_event.originator_version,
            type=stored_event.topic.rsplit(":", 1)[-1],
            schema_version=schema_version,
            occurred_at=occurred_at or _now(),
            recorded_at=recorded_at or _now(),
            actor=str(meta.get("actor", "unknown")),
            correlation_id=str(meta.get("correlation_id", "")),
            causation_id=meta.get("causation_id"),
            payload=state,
            position=stored_event.id if isinstance(stored_event, Notification) else None,
        )
        return envelope


def tenant_of(mapper: EnvelopeMapper, stored_event: StoredEvent) -> str:
    """The tenant a stored event belongs to (cheap enough for feed filtering)."""
    meta = mapper.decode_state(stored_event, personal=False).get(META_KEY) or {}
    return str(meta.get("tenant_id", ""))


def _parse(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return None


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _legacy_id(stored_event: StoredEvent) -> UUID:
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"{stored_event.originator_id}/{stored_event.originator_version}"
    )
