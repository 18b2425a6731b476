"""The composition root: builds the whole system from settings. Nothing else wires adapters.

Embedded default: the SQLite event store and read models in one file, in-process fan-out.
Production: `store="dynamodb"` (event store and read models on DynamoDB) and `REDIS_URL` for
fan-out across API processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.sqlite import SQLiteTrackingRecorder

from event_store.log import EventLog
from fleetwatch.settings import Settings
from projections.device_status import DeviceStatusProjection, DeviceStatusView
from projections.runner import ProjectionWorker
from read_side.device_status import DeviceStatusReader
from read_side.notifications import Fanout
from write_side.application import FleetApplication

PROJECTIONS = ("device_status",)


@dataclass
class System:
    settings: Settings
    app: FleetApplication
    devices: DeviceStatusReader
    event_log: EventLog
    fanout: Fanout
    workers: dict[str, ProjectionWorker] = field(default_factory=dict)
    views: dict[str, DeviceStatusView] = field(default_factory=dict)
    _started: bool = False

    def start(self) -> None:
        """Start the projection workers (threads), unless settings say another process runs them."""
        if self.settings.run_projections and not self._started:
            for worker in self.workers.values():
                worker.start()
            self._started = True

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Block until every read model has applied the feed up to `position` (read-your-writes)."""
        if position <= 0:
            return True
        deadline = time.monotonic() + timeout
        for worker in self.workers.values():
            remaining = max(0.0, deadline - time.monotonic())
            if self._started:
                if not worker.wait_for(position, remaining):
                    return False
            elif not _poll_checkpoint(worker, position, remaining):
                return False
        return True

    def rebuild(self, name: str, progress: Any = None) -> int:
        """Drop the read model `name` and rebuild it from position zero; returns events read."""
        worker = self.workers[name]
        self.views[name].reset(worker.tracking_name)
        worker._position = 0
        return worker.catch_up(progress)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.fanout.close()
        self.app.close()


def _poll_checkpoint(worker: ProjectionWorker, position: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while worker.checkpoint() < position:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def application_env(settings: Settings) -> dict[str, str]:
    """The `eventsourcing` environment that selects and configures the persistence module."""
    create = "y" if settings.create_tables else "n"
    if settings.store == "dynamodb":
        env = {
            "PERSISTENCE_MODULE": "event_store.dynamodb",
            "DYNAMODB_REGION": settings.dynamodb_region,
            "DYNAMODB_TABLE_PREFIX": settings.dynamodb_table_prefix,
            "CREATE_TABLE": create,
        }
        if settings.dynamodb_endpoint_url:
            env["DYNAMODB_ENDPOINT_URL"] = settings.dynamodb_endpoint_url
        return env
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "event_store.sqlite",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "CREATE_TABLE": create,
    }


def build_fanout(settings: Settings) -> Fanout:
    if settings.redis_url:
        from read_side.fanout_redis import RedisFanout

        return RedisFanout(settings.redis_url)
    from read_side.fanout_memory import InProcessFanout

    return InProcessFanout()


def _device_status_store(app: FleetApplication, settings: Settings) -> tuple[Any, Any]:
    """The device-status view (writer) and reader for the configured store."""
    if settings.store == "dynamodb":
        from projections.views.dynamodb import DynamoDBDeviceStatusView
        from read_side.dynamodb import DynamoDBDeviceStatusReader

        dview = app.factory.tracking_recorder(DynamoDBDeviceStatusView)
        assert isinstance(dview, DynamoDBDeviceStatusView)
        return dview, DynamoDBDeviceStatusReader(dview.client, dview.table_prefix)
    from projections.views.sqlite import SQLiteDeviceStatusView
    from read_side.sqlite import SQLiteDeviceStatusReader

    sview = app.factory.tracking_recorder(SQLiteDeviceStatusView)
    assert isinstance(sview, SQLiteTrackingRecorder)
    return sview, SQLiteDeviceStatusReader(sview.datastore)


def build_system(settings: Settings | None = None) -> System:
    settings = settings or Settings()
    app = FleetApplication(env=application_env(settings))
    view, reader = _device_status_store(app, settings)
    fanout = build_fanout(settings)
    mapper = app.envelope_mapper
    worker = ProjectionWorker(
        DeviceStatusProjection(view, reader),
        checkpoints=view,
        recorder=app.recorder,
        mapper=mapper,
        upstream_name=app.name,
        publisher=fanout,
    )
    return System(
        settings=settings,
        app=app,
        devices=reader,
        event_log=EventLog(app.recorder, mapper),
        fanout=fanout,
        workers={"device_status": worker},
        views={"device_status": view},
    )
