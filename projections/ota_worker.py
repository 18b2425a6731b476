"""The worker that runs the OTA orchestrator over the feed (docs/firmware.md section 12.4).

Apart from `projections.ota` because it is the scheduling, not the state: on every (re)start it
rebuilds the orchestrator's state from the feed (`OtaProcess.rebuild`), then applies the feed
from its checkpoint in batches. Timers are fired by the timer loop through `OtaProcess.fire`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.batching import BatchingProjectionWorker
from projections.ota import OtaProcess


class OtaWorker(BatchingProjectionWorker):
    """Runs `OtaProcess` over the feed from its own checkpoint."""

    projection: OtaProcess

    def __init__(self, process: OtaProcess, **kwargs: Any) -> None:
        super().__init__(process, checkpoints=process.recorder, **kwargs)

    def rebuild_state(self) -> int:
        self._position = self.checkpoint()
        return self.projection.rebuild(self.recorder, self.mapper, self._position)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        if self.projection.built_to != self._position:
            self.rebuild_state()
        return super().catch_up(progress)

    def resume(self) -> None:
        self.rebuild_state()
        self.projection.reconcile_all()
