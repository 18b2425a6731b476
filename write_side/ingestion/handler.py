"""The telemetry command handler: every transport's messages end here, in two steps.

1. `prepare(submission)` (any thread): parse, validate (`validate_message`), authenticate the
   device (`write_side.ingestion.prepare`). A refusal is final at once (`MessageResult`
   "rejected", counted); otherwise the message becomes a `Pending` entry to commit.
2. `commit(pendings)` (one flusher thread): group the entries by device, let each device's
   `Telemetry` stream drop what it already recorded, and save every touched stream in ONE
   `insert_events` call. Lost races (another process wrote a stream) reload and retry.
   A message the stream's window cannot vouch for (an unknown id at or before its watermark:
   `Telemetry.unvouched`, none in the normal case) is looked up in raw history (`RawHistory`,
   the telemetry read model): found, it is a `duplicate` and nothing is recorded. Not found
   (the read model lags, or is unreachable), it is recorded marked late and the read model
   drops it if it turns out to be a repeat after all, so it is still counted once.

Buffering, flush timing and acknowledgements are the caller's (`ingestion.buffer`); nothing here
knows about a transport beyond its name.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from event_store.envelope import EventMetadata
from event_store.ids import new_uuid4
from write_side.application import FleetApplication
from write_side.credentials import DeviceDirectory
from write_side.ingestion.prepare import prepare_submission
from write_side.ingestion.results import (
    IngestCounters,
    MessageResult,
    Pending,
    RawHistory,
    Submission,
)
from write_side.telemetry import BatchEntry, TelemetryLimits
from write_side.telemetry_log import Telemetry

log = logging.getLogger(__name__)

CONFLICT_RETRIES = 3


class TelemetryIngestion:
    """The one telemetry command handler (see the module docstring)."""

    def __init__(
        self,
        app: FleetApplication,
        directory: DeviceDirectory,
        *,
        limits: TelemetryLimits | None = None,
        heartbeat_timeout_s: int = 300,
        max_streams_per_call: int = 500,
        max_cached_streams: int = 20_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history: RawHistory | None = None,
    ) -> None:
        self.app = app
        self.history = history
        self.directory = directory
        self.limits = limits or TelemetryLimits()
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.max_streams_per_call = max_streams_per_call
        self.max_cached_streams = max_cached_streams
        self.clock = clock
        self.counters = IngestCounters()
        # Only the committing thread touches these two.
        self._streams: OrderedDict[UUID, Telemetry] = OrderedDict()
        self.online: dict[UUID, tuple[datetime | None, int]] = {}  # stream -> last seen, timeout

    # Step 1 -----------------------------------------------------------------------------------

    def prepare(
        self, submission: Submission, now: datetime | None = None
    ) -> Pending | MessageResult:
        """A `Pending` entry, or the final (counted) refusal of the message. `now`: the time
        it was received (the clock's, when not given: one reading for a batch of them)."""
        outcome = prepare_submission(
            submission,
            self.clock() if now is None else now,
            self.limits,
            self.directory,
            self.heartbeat_timeout_s,
        )
        if isinstance(outcome, MessageResult):
            self.counters.count(outcome)
        return outcome

    # Step 2 -----------------------------------------------------------------------------------

    def plan(self, pendings: Iterable[Pending]) -> list[list[Pending]]:
        """Commit groups: one tenant each (events carry their tenant in the call's metadata), at
        most `max_streams_per_call` devices each (DynamoDB transactions are bounded)."""
        by_tenant: dict[str, dict[UUID, list[Pending]]] = {}
        for p in pendings:
            by_tenant.setdefault(p.tenant_id, {}).setdefault(p.stream_id, []).append(p)
        groups: list[list[Pending]] = []
        for streams in by_tenant.values():
            items = list(streams.values())
            size = self.max_streams_per_call
            groups.extend(
                [p for ps in items[start : start + size] for p in ps]
                for start in range(0, len(items), size)
            )
        return groups

    def commit(self, group: Sequence[Pending], retried: bool = False) -> list[MessageResult]:
        """Store one group (see `plan`) in one call; results in the order of `group`.

        A lost race reloads the streams and retries (3 times, then device by device). Any other
        failure propagates with nothing acknowledged: the caller retries later with
        `retried=True`, so messages that the failed call did store count as accepted."""
        for _ in range(CONFLICT_RETRIES):
            try:
                return self._commit(group, retried)
            except IntegrityError:
                retried = True
                log.info("telemetry commit lost a race; reloading %d streams", len(group))
        by_stream: dict[UUID, list[Pending]] = {}
        for p in group:
            by_stream.setdefault(p.stream_id, []).append(p)
        done: dict[int, MessageResult] = {}
        for items in by_stream.values():  # one device per call: conflicts stay isolated
            done.update(zip(map(id, items), self._commit(items, True), strict=True))
        return [done[id(p)] for p in group]

    def _commit(self, group: Sequence[Pending], retried: bool) -> list[MessageResult]:
        by_stream: dict[UUID, list[Pending]] = {}
        for p in group:
            by_stream.setdefault(p.stream_id, []).append(p)
        touched: list[Telemetry] = []
        fresh: dict[UUID, set[str]] = {}
        known: dict[UUID, set[str]] = {}
        last_seen: dict[UUID, datetime | None] = {}
        for stream_id, items in by_stream.items():
            telemetry = self._stream(stream_id, items[0])
            received_at = max(p.received_at for p in items)
            new = fresh[stream_id] = set()
            stored = known[stream_id] = self._stored(telemetry, [p.entry for p in items])
            for transport in dict.fromkeys(p.transport for p in items):
                entries = [p.entry for p in items if p.transport == transport]
                if stored:
                    entries = [e for e in entries if e.message_id not in stored]
                recorded = telemetry.record(entries, received_at, transport)
                new.update(e.message_id for e in recorded)
                self.counters.count_readings(sum(len(e.readings) for e in recorded))
            if telemetry.pending_events:
                touched.append(telemetry)
            last_seen[stream_id] = telemetry.last_received_at
        meta = EventMetadata(group[0].tenant_id, "system:ingestion", new_uuid4().hex)
        try:
            positions = self.app.save_telemetry(touched, meta) if touched else {}
        except BaseException:
            for telemetry in touched:  # their in-memory state is ahead of the store now
                self._streams.pop(telemetry.id, None)
            raise
        done: dict[int, MessageResult] = {}
        for stream_id, items in by_stream.items():
            self.online[stream_id] = (last_seen[stream_id], items[0].heartbeat_timeout_s)
            position = positions.get(stream_id, 0)
            done.update(_results(items, fresh[stream_id], known[stream_id], position, retried))
        results = [done[id(p)] for p in group]
        self.counters.count_all(results)
        return results

    def _stored(self, telemetry: Telemetry, entries: Sequence[BatchEntry]) -> set[str]:
        """The ids of the entries the stream cannot vouch for that raw history holds (the
        read model is asked only about those; a failure to ask accepts them: see above)."""
        if self.history is None:
            return set()
        unvouched = telemetry.unvouched(entries)  # empty in the normal case
        keys = _keys(unvouched) if unvouched else []
        if not keys:
            return set()
        try:
            return self.history.stored_messages(telemetry.tenant_id, telemetry.device_id, keys)
        except Exception:  # the read model's store: never a reason to refuse telemetry
            log.warning("raw history not reachable; late messages accepted", exc_info=True)
            return set()

    def _stream(self, stream_id: UUID, first: Pending) -> Telemetry:
        telemetry = self._streams.get(stream_id)
        if telemetry is None:
            telemetry = self.app.load_telemetry(stream_id) or Telemetry(
                tenant_id=first.tenant_id, device_id=first.message.device_id
            )
            self._streams[stream_id] = telemetry
            while len(self._streams) > self.max_cached_streams:
                self._streams.popitem(last=False)
        self._streams.move_to_end(stream_id)
        return telemetry

    def forget(self, stream_id: UUID) -> None:
        """Drop the cached stream: the next use reloads it from the store."""
        self._streams.pop(stream_id, None)


def _keys(entries: Sequence[BatchEntry]) -> list[tuple[datetime, str, str]]:
    """What raw history is asked about an entry (only entries with readings are stored there)."""
    return [(e.at, e.message_id, e.readings[0].metric) for e in entries if e.readings]


def _results(
    items: Sequence[Pending], fresh: set[str], known: set[str], position: int, retried: bool
) -> Iterator[tuple[int, MessageResult]]:
    """One device's results. Accepted: stored by this call (or, when `retried`, possibly by an
    earlier attempt of it), first copy only. Duplicate: recorded before (in the window, or
    `known` to raw history), or repeated here."""
    claimed: set[str] = set()
    for p in items:
        message_id = p.entry.message_id
        if message_id in known:
            yield id(p), MessageResult.duplicate(p.message)
        elif message_id not in claimed and (message_id in fresh or retried):
            claimed.add(message_id)
            yield id(p), MessageResult.accepted(p.message, position)
        else:
            yield id(p), MessageResult.duplicate(p.message)
