"""A filtered read of the feed that never reads more than a budget of feed items (docs/audit.md
19.1): fleet-wide activity by tenant, actor, topic (the kinds of entity), type and recorded time.

`scan_feed` reads the feed after a position page by page until it has found `first` matches
(and looked one further, to know whether there are more) or has read `budget` items, whichever
comes first. It answers what matched, how many items it read, and where to continue: after the
last match shown when there are more, after the last item read when the budget ran out first,
nowhere when it reached the end of the feed. Topics and types are checked before an item is
decoded; the tenant, actor and time after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from eventsourcing.persistence import ApplicationRecorder

from event_store.envelope import EnvelopeMapper, EventEnvelope

DEFAULT_BUDGET = 5000
PAGE_SIZE = 500


@dataclass(frozen=True)
class FeedFilter:
    """What a history read selects; every given criterion must hold."""

    tenant_id: str
    actor: str | None = None
    topic: Callable[[str], bool] | None = None  # a stored topic is selected
    types: frozenset[str] = field(default_factory=frozenset)  # envelope types ("Device.Updated")
    since: datetime | None = None  # recorded at or after
    until: datetime | None = None  # recorded before
    stream_id: str | None = None  # only this stream's events (a follower of one stream)

    def selects_topic(self, topic: str) -> bool:
        if self.topic is not None and not self.topic(topic):
            return False
        return not self.types or topic.rsplit(":", 1)[-1] in self.types

    def selects(self, envelope: EventEnvelope) -> bool:
        return (
            envelope.tenant_id == self.tenant_id
            and (self.actor is None or envelope.actor == self.actor)
            and (self.since is None or envelope.recorded_at >= self.since)
            and (self.until is None or envelope.recorded_at < self.until)
            and self.stream_id in (None, envelope.stream_id)
        )


@dataclass(frozen=True)
class FeedScan:
    events: list[EventEnvelope]  # at most `first`, in feed order
    scanned: int  # feed items read
    next_after: int | None  # where the next page starts; None: the end of the feed was reached
    exhausted: bool  # the budget ran out before `first` matches were found
    read_to: int  # the last position (version) read: a follower waits for the feed past it


def scan_feed(
    recorder: ApplicationRecorder,
    mapper: EnvelopeMapper,
    selection: FeedFilter,
    *,
    after: int,
    first: int,
    budget: int = DEFAULT_BUDGET,
) -> FeedScan:
    if first < 1 or budget < 1:
        raise ValueError("first and budget must be at least 1")
    found: list[EventEnvelope] = []
    scanned = 0
    position = after
    while scanned < budget:
        limit = min(PAGE_SIZE, budget - scanned)
        page = recorder.select_notifications(start=position, limit=limit, inclusive_of_start=False)
        for notification in page:
            scanned += 1
            position = notification.id
            if not selection.selects_topic(notification.topic):
                continue
            envelope = mapper.to_envelope(notification)
            if not selection.selects(envelope):
                continue
            if len(found) == first:  # one more than shown: there are more
                return FeedScan(found, scanned, found[-1].position, False, position)
            found.append(envelope)
        if len(page) < limit:
            return FeedScan(found, scanned, None, False, position)
    return FeedScan(found, scanned, position, len(found) < first, position)


def scan_stream(
    recorder: ApplicationRecorder,
    mapper: EnvelopeMapper,
    stream_id: object,
    selection: FeedFilter,
    *,
    after: int,
    first: int,
    budget: int = DEFAULT_BUDGET,
) -> FeedScan:
    """The same over one stream in version order (`after` and `next_after` are versions)."""
    stored = recorder.select_events(stream_id, gt=after or None, limit=budget)  # type: ignore[arg-type]
    found: list[EventEnvelope] = []
    for scanned, event in enumerate(stored, start=1):
        if not selection.selects_topic(event.topic):
            continue
        envelope = mapper.to_envelope(event)
        if not selection.selects(envelope):
            continue
        if len(found) == first:
            return FeedScan(found, scanned, found[-1].version, False, event.originator_version)
        found.append(envelope)
    last = stored[-1].originator_version if stored else after
    if len(stored) < budget:
        return FeedScan(found, len(stored), None, False, last)
    return FeedScan(found, len(stored), last, len(found) < first, last)
