"""The orchestrator's timer store and job outbox on the application's own store (SQLite file
or DynamoDB tables): one object implementing both ports of `ota.schedule`, so the schedule
writer commits its rows with its checkpoint."""

from __future__ import annotations

from ota.schedule_rows import ScheduleStore
from write_side.application import FleetApplication


def build_schedule_store(app: FleetApplication) -> ScheduleStore:
    from event_store.dynamodb import DynamoDBFactory

    if isinstance(app.factory, DynamoDBFactory):
        from ota.schedule_dynamodb import DynamoDBSchedule

        store = app.factory.tracking_recorder(DynamoDBSchedule)
        if not isinstance(store, DynamoDBSchedule):  # a factory that ignored the class
            raise TypeError(f"no schedule store from {app.factory}")
        return store
    from ota.schedule_sqlite import SQLiteSchedule

    recorder = app.factory.tracking_recorder(SQLiteSchedule)
    if not isinstance(recorder, SQLiteSchedule):
        raise TypeError(f"no schedule store from {app.factory}")
    return recorder
