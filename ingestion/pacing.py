"""Pacing: hold commits while the consumers of the committed telemetry fall behind.

An ingestion path that takes more than the consumers of its messages can apply lets them fall
behind without bound. In one process it also starves them of the GIL: at 2x the rate they keep
up with, one process accepted 21k msg/s while its consumers fell to 4k/s and 40 s behind. So,
before each commit, while those consumers (the read models and the alerting policy that apply
telemetry batches, in this process or others) are more than `max_consumer_lag` seconds behind
this flusher's commits and still moving, the flusher waits; the queue fills and pushes back on
the producers (MQTT stops reading, HTTP says 503), the backlog stays with the broker and the
devices instead of in the feed, and read models and alerts stay fresh. Consumers that have not
moved for `STALLED_AFTER_S` (failing, stopped, not started) are not waited for: ingestion never
stops because a read model does.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

# The feed positions that the consumers to pace with have applied, one per consumer, in the
# same order every time.
Applied = Callable[[], Sequence[int]]
STALLED_AFTER_S = 2.0  # consumers not moving for this long are not waited for


class Pacer:
    """The flusher's commits not yet known to be applied, and the wait before the next one."""

    def __init__(self, max_consumer_lag: float | None) -> None:
        self.max_consumer_lag = max_consumer_lag  # None: never pace
        self.paced_s = 0.0  # time the flusher held commits for the consumers to catch up
        self._applied: Applied | None = None
        self._poll = 0.01
        self._consumers: list[tuple[int, float]] = []  # each one's last position, when it moved
        # (position, when) of this flusher's commits not yet known to be applied
        self._commits: deque[tuple[int, float]] = deque(maxlen=10_000)

    @property
    def active(self) -> bool:
        return self._applied is not None

    def pace_with(self, applied: Applied, poll: float = 0.01) -> None:
        """See `IngestService.pace_with`; ignored without a lag bound."""
        if self.max_consumer_lag is not None:
            self._applied, self._poll = applied, poll

    def committed(self, position: int) -> None:
        """The flusher committed up to feed `position` now."""
        self._commits.append((position, time.monotonic()))

    def wait(self, stopping: Callable[[], bool]) -> None:
        """Wait while the paced consumers that are moving lag more than `max_consumer_lag`
        (not at all once `stopping()`)."""
        if self._applied is None or self.max_consumer_lag is None:
            return
        started = time.monotonic()
        while not stopping():
            now = time.monotonic()
            try:
                positions = self._applied()
            except Exception:  # an instrument, not the commit path: never stop ingestion
                log.exception("could not read how far the consumers are; not pacing")
                return
            if len(self._consumers) != len(positions):  # first sight: moving once it moves
                self._consumers = [(p, float("-inf")) for p in positions]
            moving = []
            for k, (position, (last, moved_at)) in enumerate(
                zip(positions, self._consumers, strict=True)
            ):
                if position != last:
                    self._consumers[k] = (position, now)
                    moving.append(position)
                elif now - moved_at < STALLED_AFTER_S:
                    moving.append(position)
            if not moving:  # caught up and idle, or stalled: nothing to wait for
                break
            applied, commits = min(moving), self._commits
            while commits and commits[0][0] <= applied:
                commits.popleft()
            if not commits or now - commits[0][1] <= self.max_consumer_lag:
                break
            time.sleep(self._poll)
        self.paced_s += time.monotonic() - started
