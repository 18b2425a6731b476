"""An event as the store hands it to projections and auditors (`EventEnvelope`), for the pure
tests of what folds or shows it: only what a test varies is named, the rest is one tenant's
(`acme`) first schema version, without causation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from event_store.envelope import EventEnvelope


def recorded(
    type_: str,
    payload: dict[str, Any],
    *,
    stream_id: str | uuid.UUID,
    version: int,
    at: datetime,
    actor: str,
    position: int,
) -> EventEnvelope:
    """The event `type_` with `payload`, occurred and recorded `at`."""
    return EventEnvelope(
        event_id=uuid.uuid4(),
        tenant_id="acme",
        stream_id=str(stream_id),
        version=version,
        type=type_,
        schema_version=1,
        occurred_at=at,
        recorded_at=at,
        actor=actor,
        correlation_id="c",
        causation_id=None,
        payload=payload,
        position=position,
    )
