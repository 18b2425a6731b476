"""Backpressure: at most `max_pending` messages are held between the transports and the store.

A message takes one slot when it is queued and gives it back once its commit has finished (or
it failed for good), so the slots bound what is queued plus what is being committed. When they
are all taken, a producer either waits (`block=True`: MQTT's network thread, so the broker
stops sending; Lambda) or is told `Overloaded` at once (HTTP answers 503 with Retry-After).
A closed buffer refuses everyone, so nothing is queued that nobody would commit.
"""

from __future__ import annotations

import threading
import time

OVERLOADED = "OVERLOADED"


class Overloaded(Exception):
    """The buffer is full; try again shortly (HTTP 503 + Retry-After)."""

    code = OVERLOADED


class Slots:
    """`capacity` slots, taken per message by `take` and returned by `give_back`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._cond = threading.Condition()
        self._held = 0  # queued + being committed
        self._closed = False

    @property
    def held(self) -> int:
        return self._held

    def open(self) -> None:
        with self._cond:
            self._closed = False

    def close(self) -> None:
        """Refuse every `take` from now on, waiting producers included."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, count: int, block: bool, timeout: float | None) -> None:
        """Take `count` slots, or none and raise `Overloaded`: at once when closed, when
        `count` exceeds the capacity or unless `block`; after `timeout` seconds otherwise."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._held + count > self.capacity or self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                too_big = count > self.capacity
                timed_out = remaining is not None and remaining <= 0
                if self._closed or too_big or not block or timed_out:
                    raise Overloaded(f"{self._held} messages pending; retry shortly")
                self._cond.wait(remaining)
            self._held += count

    def give_back(self, count: int) -> None:
        with self._cond:
            self._held -= count
            self._cond.notify_all()
