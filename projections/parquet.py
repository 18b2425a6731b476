"""The Parquet writer: telemetry readings into Hive-partitioned Parquet files for analytics
(docs/analytics.md 20.2), consumer `parquet`.

`ParquetProjection` folds each `Telemetry.BatchRecorded` event with the telemetry model's own
`fold` (the readings the rollups count) into rows held in memory, and flushes them every
`flush_readings` readings or `flush_seconds` after the first buffered event (and when its worker
stops or catches up): the files first (`ParquetFiles.write`, named by the positions they cover),
then the checkpoint. A restart resumes at the checkpoint and, before its first flush, deletes the
files of any flush whose checkpoint never committed (`ParquetFiles.sweep_after`), so each reading
is in exactly one file however the batches fall.

`ParquetWorker` is the batching worker with that timer and that stop: its position moves as it
reads (ingestion pacing and `wait_for` do not wait for a flush); its checkpoint trails by at most
one flush.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder

from event_store.envelope import EventEnvelope
from event_store.feed_wake import FeedWake
from event_store.tracking import delete_tracking
from projections.batching import BatchingProjectionWorker
from read_side.analytics.files import ParquetFiles, TelemetryRows
from read_side.notifications import ChangeNotice
from read_side.telemetry import fold
from read_side.telemetry.batch import DeviceBatch, MessageKey, RawEntry, without_repeats
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

log = logging.getLogger(__name__)
BATCH_TOPIC = TELEMETRY_BATCH_RECORDED.topic
# The types of devices of one tenant, by id (those it knows; `device_status`).
DeviceTypes = Callable[[str, Sequence[UUID]], Mapping[UUID, str]]


class ParquetProjection:
    name = "parquet"
    topics = (BATCH_TOPIC,)

    def __init__(
        self,
        files: ParquetFiles,
        checkpoints: TrackingRecorder,
        device_types: DeviceTypes,
        *,
        flush_readings: int = 100_000,
        flush_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = files
        self.checkpoints = checkpoints
        self.device_types = device_types
        self.flush_readings = flush_readings
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.flushes = 0
        self.discard()

    def discard(self) -> None:
        """Forget what is buffered (at a (re)start: the worker resumes at the checkpoint); the
        next flush sweeps the files a failed flush may have left first."""
        self.rows = TelemetryRows()
        self.pending: Tracking | None = None
        self.first_position = 0
        self.since = 0.0
        self.types: dict[tuple[str, UUID], str] = {}
        self.swept = False

    def reset(self, application_name: str) -> None:
        """Forget the checkpoint, then delete every file (here and in the mirror), so the
        worker, rewound, writes the tree again from the feed's start (`fleetwatch projections
        rebuild parquet`). In that order: after a crash between the two, the worker resumes
        from zero and its first flush sweeps every file above 0 (all of them) anyway."""
        delete_tracking(self.checkpoints, application_name)
        gone = self.files.sweep_after(0)  # every file's first position is at least 1
        self.discard()
        log.info("parquet: rebuilding; deleted %d files", len(gone))

    def handles(self, topic: str) -> bool:
        return topic == BATCH_TOPIC

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """Buffer the batches' readings (and `tracking` as the checkpoint to commit with
        them); flush when `flush_readings` are buffered."""
        written = partial(self._written, tracking.application_name)
        batches = without_repeats([fold(envelope) for envelope in envelopes], written)
        self._learn_types({(b.tenant_id, b.device_id) for b in batches})
        if self.pending is None:
            self.first_position = batches[0].position if batches else tracking.notification_id
            self.since = self.clock()
        for batch in batches:
            self.rows.add(batch, self.types.get((batch.tenant_id, batch.device_id), ""))
        self.pending = tracking
        if len(self.rows) >= self.flush_readings:
            self.flush()
        return []

    def flush_if_due(self) -> None:
        if self.pending is not None and self.clock() - self.since >= self.flush_seconds:
            self.flush()

    def flush_due_in(self) -> float:
        """Seconds until `flush_if_due` writes (infinite with nothing buffered)."""
        if self.pending is None:
            return math.inf
        return max(self.since + self.flush_seconds - self.clock(), 0.0)

    def flush(self) -> None:
        """Write the buffered readings' files, then commit the checkpoint; nothing buffered:
        nothing done."""
        pending = self.pending
        if pending is None:
            return
        if not self.swept:
            checkpoint = self.checkpoints.max_tracking_id(pending.application_name) or 0
            gone = self.files.sweep_after(checkpoint)
            if gone:
                log.info("parquet: deleted %d files after position %d", len(gone), checkpoint)
            self.swept = True
        if len(self.rows):
            self.files.write(self.rows, self.first_position, pending.notification_id)
        self.checkpoints.insert_tracking(pending)
        self.flushes += 1
        self.rows, self.pending, self.types = TelemetryRows(), None, {}

    def _written(self, name: str, batch: DeviceBatch, entries: list[RawEntry]) -> set[MessageKey]:
        """Which late `entries` of `batch` repeat a message already written for the device:
        buffered here, or in a committed file (so a query over the files counts a reading
        once, as the rollups do: `without_repeats`)."""
        keys = {(e.at_ms, e.message_id) for e in entries}
        tenant, device, rows = batch.tenant_id, str(batch.device_id), self.rows
        found = {
            (at, message)
            for t, d, at, message in zip(
                rows.tenant_id, rows.device_id, rows.ts_ms, rows.message_id, strict=True
            )
            if d == device and t == tenant and (at, message) in keys
        }
        rest = keys - found
        if rest:
            committed = self.checkpoints.max_tracking_id(name) or 0
            found |= self.files.written(tenant, device, rest, committed)
        return found

    def _learn_types(self, devices: set[tuple[str, UUID]]) -> None:
        unknown: dict[str, list[UUID]] = {}
        for tenant, device in devices:
            if (tenant, device) not in self.types:
                unknown.setdefault(tenant, []).append(device)
        for tenant, ids in unknown.items():
            found = self.device_types(tenant, ids)
            for device in ids:
                self.types[(tenant, device)] = found.get(device, "")


class ParquetWorker(BatchingProjectionWorker):
    """The batching worker that also flushes on the projection's timer, when it catches up,
    and when it stops."""

    projection: ParquetProjection

    def resume(self) -> None:
        self.projection.discard()
        super().resume()

    def housekeeping_if_due(self) -> None:
        self.projection.flush_if_due()

    def next_duty(self) -> float:
        return self.projection.flush_due_in()

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        count = super().catch_up(progress)
        self.projection.flush()
        return count

    def stop(self, timeout: float = 5.0) -> bool:
        ended = super().stop(timeout)
        if ended:  # else a restart writes it again
            try:
                self.projection.flush()
            except Exception:
                log.exception("parquet: the flush at stop failed; a restart writes it again")
        return ended

    def _follow(self, wake: FeedWake) -> None:
        while not self._stopping.is_set():
            read = 0
            self.pass_unread_commits()
            if wake.worth_reading(self._position):
                head = self.recorder.max_notification_id() or 0
                if head > self._position:
                    read = self._read(head)
            self.housekeeping_if_due()
            if not read:
                wake.rest(self.idle_poll, self.next_duty())
