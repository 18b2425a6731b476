"""The canonical envelope v1 and the event hash (docs/audit.md section 19.4). Pure: no I/O.

What is hashed is the stored event exactly as stored (its state bytes' SHA-256) with the
envelope's metadata, its feed position and the hash of the previous event of its stream (the
chain). The encoding is JSON with sorted keys, no whitespace, ASCII only and no floats, so any
language recomputes the same bytes; `FORMAT` names it and never changes meaning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from audit.merkle import leaf_hash

FORMAT = "fleetwatch.envelope.v1"
GENESIS = bytes(32)  # the `prev` of a stream's first event


@dataclass(frozen=True)
class StoredRecord:
    """One stored event as the store holds it: where it is and its bytes."""

    position: int
    stream_id: str
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class Meta:
    """The envelope metadata the canonical form names (from the stored `_meta`)."""

    tenant_id: str
    event_id: str
    actor: str
    recorded_at: str


def stream_text(originator_id: UUID | str) -> str:
    """An originator id as text: a UUID with dashes, anything else as given."""
    if isinstance(originator_id, UUID):
        return str(originator_id)
    try:
        return str(UUID(originator_id))
    except ValueError:
        return originator_id


def meta_from_state(state: dict[str, Any]) -> Meta:
    """The metadata of a decoded stored state (its `_meta`; absent keys are empty)."""
    meta = state.get("_meta") or {}
    return Meta(
        tenant_id=str(meta.get("tenant_id", "")),
        event_id=str(meta.get("event_id", "")),
        actor=str(meta.get("actor", "")),
        recorded_at=str(meta.get("recorded_at", "")),
    )


def canonical_fields(record: StoredRecord, meta: Meta, prev: bytes) -> dict[str, Any]:
    """The canonical envelope as a JSON object (what the export shows)."""
    return {
        "format": FORMAT,
        "tenant_id": meta.tenant_id,
        "event_id": meta.event_id,
        "actor": meta.actor,
        "recorded_at": meta.recorded_at,
        "position": record.position,
        "stream_id": record.stream_id,
        "version": record.version,
        "topic": record.topic,
        "state_sha256": hashlib.sha256(record.state).hexdigest(),
        "prev": prev.hex(),
    }


def encode(fields: dict[str, Any]) -> bytes:
    """The canonical bytes of a canonical envelope object."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def event_hash(record: StoredRecord, meta: Meta, prev: bytes) -> bytes:
    """The event's hash: its Merkle leaf hash, SHA-256(0x00 || canonical envelope)."""
    return leaf_hash(encode(canonical_fields(record, meta, prev)))
