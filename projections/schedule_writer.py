"""The schedule writer: a consumer of the feed that turns deployment events into the
orchestrator's timer rows and the devices' job notices (docs/firmware.md section 12.4).

It follows the feed from its own checkpoint (`Fleetwatch>ota_schedule`) and, per batch,
writes the rows of `ota.schedule_events` (`timers_of`, `notices_of`) with the checkpoint
(`record`: SQLite one transaction; DynamoDB the rows, idempotent by key, then the checkpoint),
as the notifier writes its outbox. A crash before the checkpoint replays the batch, and the
keys make the replayed rows no-ops. Rows are wake-ups and messages, never decisions: the
orchestrator and the aggregates decide when a timer fires (`ota.schedule`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from ota.schedule import JobNotice, Timer
from ota.schedule_events import (
    HANDLED_TOPICS,
    ExecutionFacts,
    execution_facts,
    needs_facts,
    notices_of,
    timers_of,
)
from ota.schedule_rows import ScheduleStore
from read_side.notifications import ChangeNotice

log = logging.getLogger(__name__)

# An execution's events up to a version: `EventLog.read_stream(id, up_to_version=v)`.
StreamReader = Callable[[UUID, int], Sequence[EventEnvelope]]


class ScheduleWriter:
    """Run by a `BatchingProjectionWorker` (tracking name `Fleetwatch>ota_schedule`)."""

    name = "ota_schedule"

    def __init__(
        self,
        store: ScheduleStore,
        read_stream: StreamReader,
        announce: Callable[[Sequence[Timer]], None] | None = None,
    ) -> None:
        """`announce`: told of the timers once stored (the timer loop of this process)."""
        self.store, self.read_stream, self.announce = store, read_stream, announce
        self.topics = tuple(sorted(HANDLED_TOPICS))

    def handles(self, topic: str) -> bool:
        return topic in HANDLED_TOPICS

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """The batch's rows with the checkpoint (also none, so the checkpoint moves on)."""
        timers: list[Timer] = []
        notices: list[JobNotice] = []
        for envelope in envelopes:
            timers += timers_of(envelope)
            if needs_facts(envelope):
                notices += notices_of(envelope, self._facts(envelope))
        self.store.record(timers, notices, tracking)
        if timers and self.announce is not None:
            self.announce(timers)
        if timers or notices:
            log.debug(
                "ota schedule: %d timer(s), %d notice(s) up to position %d",
                len(timers),
                len(notices),
                tracking.notification_id,
            )
        return []

    def _facts(self, envelope: EventEnvelope) -> ExecutionFacts | None:
        facts = execution_facts(self.read_stream(UUID(envelope.stream_id), envelope.version))
        if facts is None:
            log.warning("ota schedule: execution %s has no Queued event", envelope.stream_id)
        return facts
