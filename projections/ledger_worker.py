"""The worker that feeds the ledger (docs/audit.md section 19.4): every notification of the
feed, in order, as the stored bytes it is (`audit.ledger.Ledger.append`), the ledger's
checkpoint committed with its rows.

The ledger hashes stored records, not decoded envelopes, so this worker overrides the two
ways a worker applies notifications (`apply`, `apply_batch`); the projection protocol's
envelope methods of `_StoredRecordsOnly` are therefore never reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification, Tracking

from audit.ledger import Ledger
from audit.records import notification_record
from event_store.envelope import EventEnvelope
from projections.batching import BatchingProjectionWorker
from read_side.notifications import ChangeNotice


class _StoredRecordsOnly:
    """The ledger as the worker's projection: it handles every topic."""

    name = "ledger"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def handles(self, topic: str) -> bool:
        return True

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        raise TypeError("the ledger takes stored records: LedgerWorker.apply_batch")

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        raise TypeError("the ledger takes stored records: LedgerWorker.apply_batch")


class LedgerWorker(BatchingProjectionWorker):
    projection: _StoredRecordsOnly

    def __init__(self, ledger: Ledger, **kwargs: Any) -> None:
        super().__init__(_StoredRecordsOnly(ledger), checkpoints=ledger.store, **kwargs)

    @property
    def ledger(self) -> Ledger:
        return self.projection.ledger

    def apply(self, notification: Notification) -> None:
        self.apply_batch([notification])

    def apply_batch(
        self,
        notifications: Sequence[Notification],
        decoded: dict[int, EventEnvelope] | None = None,
    ) -> None:
        if not notifications:
            return
        # A part another worker committed first is skipped by the ledger; any other error
        # leaves the position where it was (`_run` resumes from the checkpoint).
        self.ledger.append([notification_record(n) for n in notifications], self.tracking_name)
        with self._moved:
            self._position = max(self._position, notifications[-1].id)
            self._moved.notify_all()
