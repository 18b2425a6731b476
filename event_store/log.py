"""The auditors' read API over the event store: streams, the ordered feed, and following it.

`EventLog` works over any `ApplicationRecorder` (SQLite, DynamoDB, ...) and decodes what it reads
into `EventEnvelope`s with our `EnvelopeMapper`. Feed positions are notification ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import takewhile
from types import TracebackType
from typing import Self
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

from event_store.envelope import EnvelopeMapper, EventEnvelope

DEFAULT_PAGE_SIZE = 500


class EventLog:
    """Reads one event store: a stream, a page of the feed, the head, or the feed as it grows."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: EnvelopeMapper,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.recorder = recorder
        self.mapper = mapper
        self.page_size = page_size

    def read_stream(
        self,
        stream_id: UUID,
        *,
        up_to_version: int | None = None,
        up_to_time: datetime | None = None,
    ) -> list[EventEnvelope]:
        """The stream's events in version order: all of them, or those up to a version, or
        those that occurred at or before a time (a prefix: it ends at the first event that
        occurred later). A naive `up_to_time` is taken as UTC.
        """
        stored = self.recorder.select_events(stream_id, lte=up_to_version)
        envelopes = (self.mapper.to_envelope(event) for event in stored)
        if up_to_time is None:
            return list(envelopes)
        if up_to_time.tzinfo is None:
            up_to_time = up_to_time.replace(tzinfo=UTC)
        limit = up_to_time
        return list(takewhile(lambda envelope: envelope.occurred_at <= limit, envelopes))

    def read_feed(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        tenant_id: str | None = None,
        types: Sequence[str] = (),
    ) -> list[EventEnvelope]:
        """Up to `limit` envelopes after position `after`, in feed order, optionally only those
        of one tenant and of some types (e.g. "Device.Registered"). Reads page after page until
        it has `limit` matching envelopes or reaches the end of the feed.
        """
        if limit < 1:
            return []
        filtered = tenant_id is not None or bool(types)
        page_size = self.page_size if filtered else limit
        found: list[EventEnvelope] = []
        position = after
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=page_size, inclusive_of_start=False
            )
            for notification in page:
                if types and _type_of(notification) not in types:
                    continue
                envelope = self.mapper.to_envelope(notification)
                if tenant_id is not None and envelope.tenant_id != tenant_id:
                    continue
                found.append(envelope)
                if len(found) == limit:
                    return found
            if len(page) < page_size:
                return found
            position = page[-1].id

    def read_range(
        self,
        *,
        after: int,
        up_to: int,
        tenant_id: str | None = None,
        types: Sequence[str] = (),
        page: int = 1000,
    ) -> Iterator[EventEnvelope]:
        """Every envelope in `(after, up_to]`, in feed order, optionally only those of one
        tenant and of some types, read a page at a time (a backfill, a report, an export)."""
        position = after
        while position < up_to:
            found = self.read_feed(after=position, limit=page, tenant_id=tenant_id, types=types)
            for envelope in found:
                assert envelope.position is not None  # read from the feed
                if envelope.position > up_to:
                    return
                yield envelope
            if len(found) < page or found[-1].position is None:
                return
            position = found[-1].position

    def head(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        return self.recorder.max_notification_id() or 0

    def follow(self, after: int, tenant_id: str | None = None) -> EventFollower:
        """Every envelope after position `after` (of one tenant, if given), then each new one as
        it is recorded; blocks while there is none. Stop it with `stop()` (from any thread) or
        use it as a context manager.
        """
        return EventFollower(self.recorder.subscribe(gt=after), self.mapper, tenant_id)


class EventFollower(Iterator[EventEnvelope]):
    """The envelopes of a subscription to the feed, until `stop()`."""

    def __init__(
        self,
        subscription: Subscription[ApplicationRecorder],
        mapper: EnvelopeMapper,
        tenant_id: str | None = None,
    ) -> None:
        self._subscription = subscription
        self._mapper = mapper
        self._tenant_id = tenant_id

    def __next__(self) -> EventEnvelope:
        while True:
            envelope = self._mapper.to_envelope(next(self._subscription))
            if self._tenant_id is None or envelope.tenant_id == self._tenant_id:
                return envelope

    def stop(self) -> None:
        """Ends the iteration (promptly, also when another thread is waiting for an event)."""
        self._subscription.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.stop()


def _type_of(notification: Notification) -> str:
    """The envelope type of a stored event, without decoding it: "Device.Registered"."""
    return notification.topic.rsplit(":", 1)[-1]
