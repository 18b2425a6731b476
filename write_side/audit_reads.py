"""The record of a read of the trail (docs/audit.md 19.3): every read of the history or of an
entity as of a past point records one `TrailRead` (who read, what, with which criteria, how
many events it returned), so reads are part of the same history, and of its tamper evidence.

One stream per read, not one per reader: a record is one new stream (no load, no contention
between an auditor's parallel reads, no stream that grows with every page read).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from write_side.event_names import event_name


class TrailRead(Aggregate):
    """One read of a tenant's trail by `reader` (the actor, e.g. "user:alice")."""

    @event("Recorded")
    def __init__(
        self,
        tenant_id: str,
        reader: str,
        operation: str,
        criteria: dict[str, Any],
        returned: int,
    ) -> None:
        self.tenant_id = tenant_id
        self.reader = reader
        self.operation = operation
        self.criteria = dict(criteria)
        self.returned = returned


TRAIL_READ_RECORDED = event_name(TrailRead, "Recorded")
TRAIL_READ_EVENTS = (TRAIL_READ_RECORDED,)
