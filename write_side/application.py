"""The write-side application: the one event store and feed, and the load/commit path that every
slice's service shares. The command handlers themselves are the services, one per slice
(`DeviceService`, `AlertService`, `UserService`, `TelemetryIngestion`); each handler is
load (or create) -> decide (an aggregate method) -> `commit` -> `Saved`
(docs/write-side.md, section 3.1).

Built on the `eventsourcing` Application; persistence is chosen by its environment (see
`fleetwatch.wiring`), so the same code runs on SQLite and on DynamoDB.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import IntegrityError, Mapper, OperationalError, Transcoder

from event_store.envelope import EnvelopeMapper, EventMetadata, recording_as
from event_store.personal_data import MemoryPersonalKeys, PersonalDataCipher, PersonalKeys
from event_store.transcoder import FastJSONTranscoder
from write_side.errors import ConcurrencyConflict, NotFound
from write_side.telemetry_log import SNAPSHOT_INTERVAL, Telemetry
from write_side.telemetry_window import IdWindowAsDict
from write_side.users import PERSONAL_FIELDS

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)

CONFLICT_RETRIES = 3  # attempts in all for a command that is safe to re-decide


@dataclass(frozen=True)
class Saved(Generic[A]):
    """A command's outcome: the aggregate as saved, and the feed position of its last event
    (0 when the command changed nothing), which read-your-writes callers can wait for."""

    aggregate: A
    position: int


class FleetApplication(Application[UUID]):
    """One event store and one feed for the whole system; `load` and `commit` are the path every
    slice's command handlers take (no slice reaches past them)."""

    name = "Fleetwatch"

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()  # the library's format, decoded faster
        self.register_transcodings(transcoder)
        transcoder.register(IdWindowAsDict())  # in telemetry streams' snapshots
        return transcoder

    def construct_mapper(self) -> Mapper[UUID]:
        mapper = self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=EnvelopeMapper
        )
        assert isinstance(mapper, EnvelopeMapper)
        # The personal fields' keys live beside the store (its factory's `personal_keys`);
        # the in-memory store keeps them in memory.
        make_keys = getattr(self.factory, "personal_keys", None)
        keys: PersonalKeys = make_keys() if make_keys is not None else MemoryPersonalKeys()
        mapper.personal = PersonalDataCipher(PERSONAL_FIELDS, keys)
        return mapper

    def destroy_personal_keys(self, subject: UUID) -> int:
        """Destroy the data keys of `subject` (a user): their personal fields read as None from
        now on, in every event (docs/audit.md 19.7). How many keys there were."""
        personal = self.envelope_mapper.personal
        return 0 if personal is None else personal.destroy(subject)

    @property
    def envelope_mapper(self) -> EnvelopeMapper:
        assert isinstance(self.mapper, EnvelopeMapper)
        return self.mapper

    def find(
        self, cls: type[A], tenant_id: str | None, aggregate_id: UUID, version: int | None = None
    ) -> A | None:
        """The `cls` aggregate as of `version` (latest by default); None when there is none, or
        it is another tenant's. `tenant_id=None` means any tenant (ingestion: the device's
        credential says which)."""
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):
            return None
        if tenant_id is not None and getattr(aggregate, "tenant_id", None) != tenant_id:
            return None
        return aggregate

    def load(
        self, cls: type[A], tenant_id: str, aggregate_id: UUID, version: int | None = None
    ) -> A:
        """The caller's `cls` aggregate; `NotFound` also for another tenant's (no existence
        leak)."""
        aggregate = self.find(cls, tenant_id, aggregate_id, version)
        if aggregate is None:
            raise NotFound(f"{noun(cls)} {aggregate_id} not found")
        return aggregate

    def commit(self, aggregate: A, meta: EventMetadata, *also: Aggregate) -> Saved[A]:
        """Save the pending events of `aggregate` and of the `also` aggregates under the
        command's metadata, in ONE `insert_events` (all or nothing: a release and its
        `FirmwareVersion` markers). Nothing pending: nothing is written, position 0. The store
        refusing a version of any of them (another writer won the race, or a stream that must
        be new exists) is `ConcurrencyConflict`, and then none is saved."""
        aggregates: tuple[Aggregate, ...] = (aggregate, *also)
        if not any(a.pending_events for a in aggregates):
            return Saved(aggregate, 0)
        with recording_as(meta):
            try:
                recordings = self.save(*aggregates)
            except IntegrityError as e:
                names = ", ".join(f"{type(a).__name__} {a.id}" for a in aggregates)
                raise ConcurrencyConflict(f"{names} changed concurrently; reload and retry") from e
        positions = [r.notification.id for r in recordings if r.notification.id is not None]
        return Saved(aggregate, max(positions, default=0))

    # Telemetry store operations. The telemetry command handler is
    # `write_side.ingestion.TelemetryIngestion`; these are the group commit it needs.

    @cached_property
    def telemetry_repository(self) -> Repository[UUID]:
        """Telemetry streams, loaded from their latest snapshot (the rest of the application
        does not pay a snapshot lookup per load)."""
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        snapshots = self.factory.event_store(mapper=self.mapper, recorder=recorder)
        return Repository(event_store=self.events, snapshot_store=snapshots)

    def load_telemetry(self, stream_id: UUID) -> Telemetry | None:
        try:
            telemetry: Aggregate = self.telemetry_repository.get(stream_id)
        except AggregateNotFoundError:
            return None
        return telemetry if isinstance(telemetry, Telemetry) else None

    def save_telemetry(self, streams: Sequence[Telemetry], meta: EventMetadata) -> dict[UUID, int]:
        """Save the streams' pending events in ONE `insert_events` call (one transaction);
        returns each stream's feed position. A lost race raises the store's IntegrityError
        (the caller reloads and retries); then the in-memory streams must be discarded."""
        before = {t.id: t.version - len(t.pending_events) for t in streams}
        events = [event for t in streams for event in t.collect_events()]
        with recording_as(meta):  # (`save` would also run isinstance checks per event)
            recordings = self.events.put(events)
        positions: dict[UUID, int] = {}
        for recording in recordings:
            if recording.notification.id is not None:
                stream = recording.domain_event.originator_id
                positions[stream] = max(positions.get(stream, 0), recording.notification.id)
        self._snapshot_telemetry(
            [
                t
                for t in streams
                if t.version // SNAPSHOT_INTERVAL > before[t.id] // SNAPSHOT_INTERVAL
            ],
            meta,
        )
        return positions

    def _snapshot_telemetry(self, streams: Sequence[Telemetry], meta: EventMetadata) -> None:
        """Snapshots from the in-memory state just saved (no reload); a snapshot another process
        already took is fine, a failed one only costs a longer load later."""
        store = self.telemetry_repository.snapshot_store
        if not streams or store is None:
            return
        try:
            with recording_as(meta):
                store.put([Snapshot.take(t) for t in streams])
        except (IntegrityError, OperationalError) as e:
            log.info("telemetry snapshots not stored: %s", e)


def check_version(aggregate: Aggregate | None, expected: int | None) -> None:
    """`ConcurrencyConflict` before anything is decided when the command expects another version
    (`aggregate=None`: not created yet, version 0)."""
    actual = 0 if aggregate is None else aggregate.version
    if expected is not None and expected != actual:
        what = "not created yet" if aggregate is None else f"{noun(type(aggregate))} {aggregate.id}"
        raise ConcurrencyConflict(
            f"{what} is at version {actual}, not {expected}", expected=expected, actual=actual
        )


def retried(attempt: Callable[[], Saved[A]], *, retry: bool) -> Saved[A]:
    """Run `attempt` (load, decide, commit). When `retry` (a command without an expected
    version, safe to re-decide), a lost race runs it again on the reloaded aggregate, up to
    `CONFLICT_RETRIES` attempts in all, before the `ConcurrencyConflict` reaches the caller."""
    for _ in range(CONFLICT_RETRIES - 1):
        try:
            return attempt()
        except ConcurrencyConflict:
            if not retry:
                raise
    return attempt()


def noun(cls: type[Aggregate]) -> str:
    """How errors name an aggregate class: `AlertRule` -> "alert rule"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()
