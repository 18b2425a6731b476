"""The two loops over the orchestrator's schedule (docs/firmware.md section 12.4):

- `TimerLoop`: due rows -> `fire(timers, now)` (the orchestrator loads the streams and lets
  the aggregates decide) -> `done`. A fire that raises leaves the rows for the next turn (at
  least once; the aggregates refuse what a second firing would repeat), `poll_interval` later.
  Each turn is one `due` read up to `max_idle` ahead: it fires what is due and remembers the
  earliest row after now; it then sleeps until that row, at most `max_idle`. A timer stored in
  this process (the schedule writer's rows, the orchestrator's `wake` rows) is announced
  through a `Wakeup` (`notify`), and wakes the loop when it is due before the loop would look;
  one stored by another process is seen within `max_idle`. So an idle loop reads the store
  once per `max_idle`, not twice per second.
- `JobDispatcher`: pending notices -> `render` the job document (docs/firmware.md 12.5;
  None: nothing to send any more) -> `DeviceJobs.publish` -> `mark_sent`, one notice at a time,
  so a crash between publish and mark repeats at most that publish (devices deduplicate by
  execution, attempt and operation). An `http` notice is marked sent without publishing: the
  device polls for its job. A failed publish ends the turn; the notice stays pending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ota.schedule import DeviceJobs, JobNotice, JobOutbox, Timer, TimerStore

log = logging.getLogger(__name__)

Fire = Callable[[Sequence[Timer], datetime], None]
Listener = Callable[[Sequence[Timer]], None]
Render = Callable[[JobNotice], Mapping[str, object] | None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Loop:
    """A daemon thread calling `_turn` (which returns the seconds to wait) until stopped."""

    name = "ota-loop"

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False  # it ends after its turn; start again once stop says True
            self._thread = None
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._stopping.wait(self._turn())

    def _turn(self) -> float:
        raise NotImplementedError


class Wakeup:
    """In process: who stores timers announces them; the timer loop listens (`notify`)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def __call__(self, timers: Sequence[Timer]) -> None:
        if timers:
            for listener in self._listeners:
                listener(timers)


class AnnouncedTimers:
    """A `TimerStore` that announces what it schedules (for the orchestrator's `wake` rows)."""

    def __init__(self, store: TimerStore, wakeup: Wakeup) -> None:
        self.store, self.wakeup = store, wakeup

    def schedule(self, timers: Sequence[Timer]) -> None:
        self.store.schedule(timers)
        self.wakeup(timers)

    def due(self, now: datetime, limit: int) -> list[Timer]:
        return self.store.due(now, limit)

    def done(self, timers: Sequence[Timer]) -> None:
        self.store.done(timers)


class TimerLoop(Loop):
    name = "ota-timers"

    def __init__(
        self,
        timers: TimerStore,
        fire: Fire,
        *,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        max_idle: float = 10.0,
    ) -> None:
        super().__init__()
        self.timers, self.fire, self.clock = timers, fire, clock
        self.batch_size, self.poll_interval, self.max_idle = batch_size, poll_interval, max_idle
        self.next_due: datetime | None = None  # the earliest row after the last look, if near
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._planned: datetime | None = None  # when the sleeping loop looks next; None: now

    def notify(self, timers: Sequence[Timer]) -> None:
        """Timers were stored (in this process): wake the loop if one is due before it would
        look again. Cheap, any thread."""
        earliest = min(timer.due_at for timer in timers)
        with self._lock:
            if self._planned is None or earliest < self._planned:
                self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stopping.set()
        self._wake.set()
        return super().stop(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                self._planned = None  # looking now: any announcement wakes the next sleep
                self._wake.clear()
            delay = self._turn()
            with self._lock:
                self._planned = self.clock() + timedelta(seconds=delay)
            self._wake.wait(delay)

    def run_once(self) -> int:
        """Fire one batch of due rows; how many. Raises what `fire` raised (rows kept). Sets
        `next_due`: the earliest row due after now and within `max_idle`, else None."""
        now = self.clock()
        rows = self.timers.due(now + timedelta(seconds=self.max_idle), self.batch_size)
        due = [timer for timer in rows if timer.due_at <= now]
        later = [timer.due_at for timer in rows if timer.due_at > now]
        self.next_due = min(later, default=None)
        if due:
            self.fire(due, now)
            self.timers.done(due)
        return len(due)

    def drain(self, max_batches: int = 100) -> int:
        fired = 0
        for _ in range(max_batches):
            count = self.run_once()
            fired += count
            if count < self.batch_size:
                break
        return fired

    def wait_seconds(self) -> float:
        """After a turn: until `next_due`, at most `max_idle` (no read)."""
        if self.next_due is None:
            return self.max_idle
        seconds = (self.next_due - self.clock()).total_seconds()
        return min(self.max_idle, max(0.0, seconds))

    def _turn(self) -> float:
        try:
            if self.run_once() >= self.batch_size:
                return 0.0  # more are due
            return self.wait_seconds()
        except Exception:  # the store or the orchestrator failed: the rows stay, try again
            log.exception("ota timers: firing failed; retrying in %.1f s", self.poll_interval)
            return self.poll_interval


@dataclass
class Dispatched:
    published: int = 0
    polled: int = 0  # `http` notices: the device fetches its job
    dropped: int = 0  # rendered as None: nothing to send any more
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.published + self.polled + self.dropped


class JobDispatcher(Loop):
    name = "ota-jobs"

    def __init__(
        self,
        outbox: JobOutbox,
        jobs: DeviceJobs,
        render: Render,
        *,
        batch_size: int = 50,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.outbox, self.jobs, self.render = outbox, jobs, render
        self.batch_size, self.poll_interval = batch_size, poll_interval

    def run_once(self) -> Dispatched:
        """Deliver one batch of pending notices (stops at the first failed publish)."""
        done = Dispatched()
        for notice in self.outbox.pending(self.batch_size):
            if notice.channel == "http":
                done.polled += 1
            else:
                try:
                    document = self.render(notice)
                    if document is not None:
                        self.jobs.publish(notice.tenant_id, notice.device_id, document)
                except Exception:
                    log.exception("ota jobs: %s not delivered; it stays pending", notice.key)
                    done.failed += 1
                    break
                if document is None:
                    done.dropped += 1
                else:
                    done.published += 1
            self.outbox.mark_sent([notice])
        return done

    def drain(self, max_batches: int = 100) -> Dispatched:
        total = Dispatched()
        for _ in range(max_batches):
            done = self.run_once()
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(done, name))
            if done.failed or done.handled < self.batch_size:
                break
        return total

    def _turn(self) -> float:
        try:
            done = self.run_once()
        except Exception:  # the outbox is unreachable: notices stay pending
            log.exception("ota jobs: dispatch failed; retrying in %.1f s", self.poll_interval)
            return self.poll_interval
        busy = done.handled >= self.batch_size and not done.failed
        return 0.0 if busy else self.poll_interval
