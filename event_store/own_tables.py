"""The tracking recorder of a component that keeps tables of its own in the application's store
(the OTA schedule, the state snapshots): its SQLite or its DynamoDB class, whichever store the
application's factory is, built by that factory (sharing its connection, client and prefix)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import TrackingRecorder


def own_tables_recorder(
    app: Application[Any],
    on_sqlite: type[TrackingRecorder],
    on_dynamodb: Callable[[], type[TrackingRecorder]],
) -> TrackingRecorder:
    """An instance of `on_sqlite` or of `on_dynamodb()` (named lazily: the DynamoDB module is
    imported only on DynamoDB); `TypeError` when the factory built something else."""
    from event_store.dynamodb import DynamoDBFactory

    kind = on_dynamodb() if isinstance(app.factory, DynamoDBFactory) else on_sqlite
    recorder = app.factory.tracking_recorder(kind)
    if not isinstance(recorder, kind):  # a factory that ignored the class
        raise TypeError(f"no {kind.__name__} from {app.factory}")
    return recorder
