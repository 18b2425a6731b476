"""The orchestrator's timer store and job outbox on the application's own store (SQLite file
or DynamoDB tables): one object implementing both ports of `ota.schedule`, so the schedule
writer commits its rows with its checkpoint."""

from __future__ import annotations

from typing import cast

from eventsourcing.persistence import TrackingRecorder

from event_store.own_tables import own_tables_recorder
from ota.schedule_rows import ScheduleStore
from write_side.application import FleetApplication


def build_schedule_store(app: FleetApplication) -> ScheduleStore:
    from ota.schedule_sqlite import SQLiteSchedule

    def on_dynamodb() -> type[TrackingRecorder]:
        from ota.schedule_dynamodb import DynamoDBSchedule

        return DynamoDBSchedule

    # Either class is a `ScheduleStore` (checked by the helper's isinstance)
    return cast(ScheduleStore, own_tables_recorder(app, SQLiteSchedule, on_dynamodb))
