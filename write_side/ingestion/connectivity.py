"""Heartbeats: a device that stays silent longer than its timeout is recorded offline.

`DeviceCameOnline` needs no check: `Telemetry.record` writes it with the first batch after the
device was offline or unknown. `DeviceWentOffline` needs a periodic tick. The decision is taken on
the device's `Telemetry` stream freshly loaded from the store and saved with its version check,
so a batch committed concurrently (here or in another process) or another process's tick makes
this save fail instead of contradicting it; the next tick decides again.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from event_store.envelope import EventMetadata
from event_store.ids import new_uuid4
from write_side.ingestion.handler import TelemetryIngestion


def watch(handler: TelemetryIngestion, stream_ids: Iterable[UUID]) -> None:
    """Streams to check at the next tick (e.g. those active just before a restart)."""
    for stream_id in stream_ids:
        handler.online.setdefault(stream_id, (None, handler.heartbeat_timeout_s))


def check_heartbeats(handler: TelemetryIngestion, limit: int = 500) -> int:
    """Record `DeviceWentOffline` for the watched devices silent longer than their timeout
    (checking at most `limit` of them, so a tick never stalls the commits for long); returns
    how many. Call it from the thread that commits (it shares the stream cache)."""
    app, now = handler.app, handler.clock()
    marked = checked = 0
    for stream_id, (seen, timeout) in list(handler.online.items()):
        if seen is not None and (now - seen).total_seconds() <= timeout:
            continue
        if checked >= limit:
            break
        checked += 1
        handler.forget(stream_id)
        telemetry = app.load_telemetry(stream_id)
        if telemetry is None or telemetry.online is not True:
            handler.online.pop(stream_id, None)
            continue
        if not telemetry.check_heartbeat(now, timeout):
            handler.online[stream_id] = (telemetry.last_received_at, timeout)
            continue
        meta = EventMetadata(telemetry.tenant_id, "system:connectivity", new_uuid4().hex)
        try:
            app.save_telemetry([telemetry], meta)
        except IntegrityError:
            continue  # a batch (or another process) got there first: decide again next tick
        handler.online.pop(stream_id, None)
        marked += 1
    return marked
