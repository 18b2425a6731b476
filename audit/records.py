"""Stored events as the ledger and the verification read them: `StoredRecord`s of the feed,
and their metadata decoded leniently (an event that no longer decodes is hashed with empty
metadata, so tampering that breaks decoding shows as a different hash, not a crash).

`feed_records` reads the feed through the recorder (SQLite: one table holds the feed and the
streams). DynamoDB keeps a second copy of each event in its stream and hides everything after
a missing feed id, so its verification reads the items themselves (`audit.records_dynamodb`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent

from audit.canonical import Meta, StoredRecord, meta_from_state, stream_text
from event_store.envelope import EnvelopeMapper

PAGE = 1000


def record_of(event: StoredEvent, position: int) -> StoredRecord:
    return StoredRecord(
        position=position,
        stream_id=stream_text(event.originator_id),
        version=event.originator_version,
        topic=event.topic,
        state=bytes(event.state),
    )


def notification_record(notification: Notification) -> StoredRecord:
    return record_of(notification, notification.id)


def meta_decoder(mapper: EnvelopeMapper) -> Callable[[StoredRecord], Meta]:
    def meta_of(record: StoredRecord) -> Meta:
        event = StoredEvent(record.stream_id, record.version, record.topic, record.state)
        try:
            return meta_from_state(mapper.decode_state(event, personal=False))
        except Exception:  # undecodable: hashed with empty metadata
            return Meta("", "", "", "")

    return meta_of


def feed_records(recorder: ApplicationRecorder) -> Iterator[StoredRecord]:
    """Every notification of the feed, in order."""
    position = 0
    while True:
        page = recorder.select_notifications(start=position, limit=PAGE, inclusive_of_start=False)
        for notification in page:
            yield notification_record(notification)
        if len(page) < PAGE:
            return
        position = page[-1].id
