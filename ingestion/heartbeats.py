"""Heartbeats: devices silent for too long go offline, checked by the flusher thread.

The check (`write_side.ingestion.connectivity.check_heartbeats`) runs every `interval` seconds
in the flusher's own thread, between commits, so it never races this process's own commits of
the same streams. At start the devices active in the feed's recent tail are watched, so a
device that fell silent while no ingestion process ran still goes offline.
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

from write_side.ingestion import TelemetryIngestion
from write_side.ingestion.connectivity import check_heartbeats, watch
from write_side.telemetry_log import TELEMETRY_BATCH_RECORDED, TELEMETRY_DEVICE_CAME_ONLINE

log = logging.getLogger(__name__)


class Heartbeats:
    """When the next check is due (`next_at`, monotonic), and the check itself."""

    def __init__(self, handler: TelemetryIngestion, interval: float) -> None:
        self.handler = handler
        self.interval = interval
        self.next_at = 0.0

    def start(self) -> None:
        """Schedule the first check and watch the recently active devices."""
        self.next_at = time.monotonic() + self.interval
        self._watch_recent()

    def check_if_due(self) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.interval
        try:
            check_heartbeats(self.handler)
        except Exception:
            log.exception("heartbeat check failed; trying again next time")

    def _watch_recent(self, notifications: int = 20_000) -> None:
        """Watch the devices active in the last `notifications` of the feed."""
        recorder = self.handler.app.recorder
        try:
            head = recorder.max_notification_id() or 0
            found = recorder.select_notifications(
                start=max(0, head - notifications),
                limit=notifications,
                topics=[TELEMETRY_DEVICE_CAME_ONLINE.topic, TELEMETRY_BATCH_RECORDED.topic],
                inclusive_of_start=False,
            )
        except Exception:
            log.exception("could not read the feed's tail for recently active devices")
            return
        watch(self.handler, {UUID(str(n.originator_id)) for n in found})
