"""The exports projection (docs/analytics.md 20.5): folds `Export.*` events into one row per
export (read model `exports`) and publishes a change notice per event on topic `export`, the
`exportProgress` subscription's feed.

`evolve` is pure; rows are guarded by the export stream's version, so a replayed event changes
nothing (and publishes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.runner import event_topics
from read_side.exports import EXPORT_TOPIC, ExportRow, ExportsReader, ExportsView, progress_data
from read_side.notifications import ChangeNotice
from write_side.event_names import topic_prefix
from write_side.exports import (
    EXPORT_COMPLETED,
    EXPORT_FAILED,
    EXPORT_PROGRESSED,
    EXPORT_REQUESTED,
    Export,
    ExportStatus,
)

EXPORT_TOPIC_PREFIX = topic_prefix(Export)


def evolve(current: ExportRow | None, envelope: EventEnvelope) -> ExportRow | None:
    """The row after `envelope`; None when it changes nothing (or was already absorbed)."""
    payload, kind = envelope.payload, envelope.type
    if current is not None and envelope.version <= current.version:
        return None
    common: dict[str, Any] = {"version": envelope.version, "updated_at": envelope.occurred_at}
    if kind == EXPORT_REQUESTED.type:
        return ExportRow(
            tenant_id=str(payload["tenant_id"]),
            export_id=UUID(envelope.stream_id),
            kind=str(payload["kind"]),
            format=str(payload["format"]),
            status=ExportStatus.REQUESTED.value,
            start=datetime.fromisoformat(payload["start"]),
            end=datetime.fromisoformat(payload["end"]),
            device_ids=tuple(payload["device_ids"]),
            requested_by=str(payload["requested_by"]),
            requested_at=datetime.fromisoformat(payload["requested_at"]),
            rows=0, size_bytes=0, object_key=None, sha256=None, reason=None, finished_at=None,
            tag=payload.get("tag"), **common,
        )  # fmt: skip
    if current is None:
        return None  # never seen requested (cannot happen in feed order)
    if kind == EXPORT_PROGRESSED.type:
        status = ExportStatus.RUNNING.value
        return replace(
            current, status=status, rows=payload["rows"], size_bytes=payload["bytes"], **common
        )
    at = datetime.fromisoformat(payload["at"]) if "at" in payload else envelope.occurred_at
    if kind == EXPORT_COMPLETED.type:
        return replace(
            current, status=ExportStatus.COMPLETED.value, rows=payload["rows"],
            size_bytes=payload["bytes"], object_key=payload["object_key"],
            sha256=payload["sha256"], finished_at=at, **common,
        )  # fmt: skip
    if kind == EXPORT_FAILED.type:
        status = ExportStatus.FAILED.value
        return replace(current, status=status, reason=payload["reason"], finished_at=at, **common)
    return replace(current, **common)  # an event type added later: keep the guard moving


class ExportsProjection:
    name = "exports"

    def __init__(self, view: ExportsView, reader: ExportsReader) -> None:
        self.view = view
        self.reader = reader
        self.topics = tuple(t for t in event_topics(Export) if self.handles(t))

    def handles(self, topic: str) -> bool:
        return topic.startswith(EXPORT_TOPIC_PREFIX)

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        rows: dict[tuple[str, UUID], ExportRow | None] = {}
        notices: list[ChangeNotice] = []
        changed: set[tuple[str, UUID]] = set()
        for envelope in envelopes:
            key = (envelope.tenant_id, UUID(envelope.stream_id))
            if key not in rows:
                rows[key] = self.reader.get(*key)
            new = evolve(rows[key], envelope)
            if new is not None:
                rows[key] = new
                changed.add(key)
                notices.append(
                    ChangeNotice(
                        tenant_id=new.tenant_id, topic=EXPORT_TOPIC, key=str(new.export_id),
                        position=envelope.position or 0, event_type=envelope.type,
                        data=progress_data(new),
                    )
                )  # fmt: skip
        saved = [row for key in changed if (row := rows[key]) is not None]
        if saved:
            self.view.save_many(saved, tracking)
        return notices
