"""The telemetry projection: `Telemetry.BatchRecorded` events into raw readings and rollups.

`TelemetryProjection` folds each event into a `DeviceBatch` (pure: `read_side.telemetry.batch`)
and hands the batches of one or many events to the view, which commits them with the
checkpoint; a re-applied event is therefore never counted twice (the checkpoint), and the
DynamoDB view also guards each rollup item with the device's stream version (see
`read_side.telemetry.dynamodb`). The batch, the ports and the adapters that write and read the
tables are the package `read_side.telemetry`; this glue stays here because it reads the event
name from the aggregate's module, which `read_side` must not import.

After the commit it publishes one notice per event on the device's `telemetry:{device}` topic,
holding what the view applied (the late entries found to repeat a stored message dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from read_side.notifications import ChangeNotice
from read_side.telemetry import TelemetryView, batch_notice, fold
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED

BATCH_TOPIC = TELEMETRY_BATCH_RECORDED.topic


class TelemetryProjection:
    name = "telemetry"
    notices = True  # False: build no change notices (a replay into scratch publishes none)

    def __init__(self, view: TelemetryView) -> None:
        self.view = view

    def handles(self, topic: str) -> bool:
        return topic == BATCH_TOPIC

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        batches = [fold(envelope) for envelope in envelopes]
        applied = self.view.apply(batches, tracking)
        if not self.notices:
            return []
        return [  # what the read model now holds: no notice of a dropped repeat
            batch_notice(batch, TELEMETRY_BATCH_RECORDED.type) for batch in applied if batch.entries
        ]
