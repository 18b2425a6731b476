"""The worker that runs the OTA orchestrator over the feed (docs/firmware.md section 12.4).

Apart from `projections.ota` because it is the scheduling, not the state: on every (re)start it
rebuilds the orchestrator's state from the feed (`OtaProcess.rebuild`), then applies the feed
from its checkpoint in batches. Timers are fired by the timer loop through `OtaProcess.fire`.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from projections.batching import RebuildingWorker
from projections.ota import OtaProcess


class OtaWorker(RebuildingWorker):
    """Runs `OtaProcess` over the feed from its own checkpoint."""

    projection: OtaProcess

    def __init__(self, process: OtaProcess, **kwargs: Any) -> None:
        super().__init__(process, checkpoints=process.recorder, **kwargs)

    def resume(self) -> None:
        self.rebuild_state()
        self.projection.reconcile_all()

    def housekeeping(self) -> None:
        """Record the position that batches which decided nothing moved (a Lambda invocation,
        after its catch-up), so that the next warm invocation finds the stored checkpoint
        where its state stands and keeps the state (`RebuildingWorker.refresh`)."""
        self.projection.record_position(Tracking(self.tracking_name, self._position))
