"""Offline detection wherever the consumers run (issue 14; docs/ingestion.md 9.4).

The ingestion flusher checks the devices it saw (`ingestion.heartbeats`), but only while an
ingestion process runs: a device that falls silent while none does was marked offline only once
one started again. `ConnectivityWatch` runs with the projection workers (`fleetwatch serve`,
`fleetwatch projections run`) and needs no ingestion:

- at start it reads the feed's connectivity events from the start to the head
  (`DeviceCameOnline`, `DeviceWentOffline`: few, whatever the telemetry volume) to know which
  devices are online, and checks each at its first turn;
- it then follows the feed; a `BatchRecorded` or `DeviceCameOnline` of a stream is a sign of
  life, noted with the time it was seen (nothing is decoded), a `DeviceWentOffline` ends the
  watch;
- every `interval` seconds, each device not seen for its timeout (its metadata's
  `fleetwatch.heartbeat_timeout_s`, looked up once per device, else `timeout_s`) is decided
  on its `Telemetry` stream freshly loaded (`check_heartbeat`: the stream's own last receipt
  decides, not the hint) and saved with its version check, so a batch or another process's
  decision committed meanwhile makes this save fail instead of contradicting it (the next
  turn decides again).

So two deciders (this and an ingestion process) never record two offline transitions for one
silence. State: in memory, rebuilt at every start (no checkpoint).

Where nothing runs between invocations (AWS: the scheduled function), `sweep` takes its
candidates from the device-status model instead (the devices it shows online, silent past
their timeout by its `last_seen_at`) and decides each the same way; no state at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification

from event_store.envelope import EventMetadata
from event_store.ids import new_uuid4
from ota.schedule_loops import Loop
from read_side.device_status.row import DeviceStatus
from write_side.application import FleetApplication
from write_side.credentials import DeviceAccess, own_heartbeat_timeout
from write_side.telemetry_log import (
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
    telemetry_id,
)

log = logging.getLogger(__name__)
ACTOR = "system:connectivity"
_ALIVE = frozenset({TELEMETRY_BATCH_RECORDED.topic, TELEMETRY_DEVICE_CAME_ONLINE.topic})
_CAME, _WENT = TELEMETRY_DEVICE_CAME_ONLINE.topic, TELEMETRY_DEVICE_WENT_OFFLINE.topic
Decision = Literal["marked", "gone", "race"] | float


def own_timeouts(access: Callable[[UUID], DeviceAccess | None]) -> Callable[[UUID], int | None]:
    """A device's own heartbeat timeout, as ingestion reads it (`DeviceService.access`)."""

    def timeout_of(device_id: UUID) -> int | None:
        found = access(device_id)
        return None if found is None else found.heartbeat_timeout_s

    return timeout_of


class ConnectivityWatch(Loop):
    name = "connectivity"

    def __init__(
        self,
        app: FleetApplication,
        timeout_s: int,
        *,
        timeout_of: Callable[[UUID], int | None] = lambda _: None,
        interval: float = 5.0,
        page: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.timeout_s, self.interval, self.page = app, timeout_s, interval, page
        self.clock, self.monotonic = clock, monotonic
        self.timeout_of = timeout_of  # a device's own timeout (its metadata), else None
        self.seen: dict[UUID, float] = {}  # online stream -> when a sign of life was seen
        self.timeouts: dict[UUID, int] = {}  # stream -> its device's timeout, looked up once
        self.position = 0
        self.marked = 0  # DeviceWentOffline recorded here
        super().__init__()

    # The state ------------------------------------------------------------------------------

    def start_state(self) -> int:
        """Which devices are online, from the feed's connectivity events up to its head; each
        is checked at the next turn. Returns the head."""
        head = self.app.recorder.max_notification_id() or 0
        self.seen.clear()
        for notification in self._read(0, head, (_CAME, _WENT)):
            stream = self._stream(notification)
            if notification.topic == _CAME:
                self.seen[stream] = float("-inf")  # decide at once: its stream knows
            else:
                self.seen.pop(stream, None)
        self.position = head
        return head

    def follow(self) -> int:
        """Note the signs of life recorded since the last look; how many notifications."""
        read = 0
        now = self.monotonic()
        for notification in self._read(self.position, None, ()):
            read += 1
            self.position = notification.id
            if notification.topic in _ALIVE:
                self.seen[self._stream(notification)] = now
            elif notification.topic == _WENT:
                self.seen.pop(UUID(str(notification.originator_id)), None)
        return read

    def _stream(self, notification: Notification) -> UUID:
        """The notification's stream; the first time, its device's timeout is looked up (the
        event names the device: decoded once per stream)."""
        stream = UUID(str(notification.originator_id))
        if stream not in self.timeouts:
            device = self.app.envelope_mapper.to_envelope(notification).payload.get("device_id")
            own = None if device is None else self.timeout_of(UUID(str(device)))
            self.timeouts[stream] = own or self.timeout_s
        return stream

    def check(self) -> int:
        """Record `DeviceWentOffline` for the devices silent past the timeout; how many."""
        marked, now = 0, self.monotonic()
        for stream, seen in list(self.seen.items()):
            timeout = self.timeouts.get(stream, self.timeout_s)
            if now - seen <= timeout:
                continue
            decided = self._decide(stream, timeout)
            if isinstance(decided, float):
                self.seen[stream] = now - decided  # the stream's own receipt
            elif decided != "race":  # a race: decide again next turn
                self.seen.pop(stream, None)
                marked += decided == "marked"
        self.marked += marked
        return marked

    def sweep(self, candidates: Iterable[DeviceStatus]) -> int:
        """Where no process follows the feed (a scheduled function): record
        `DeviceWentOffline` for those of the devices a read model shows online whose last
        batch (as the model saw it) is older than their timeout, each decided on its stream as
        `check` decides; how many."""
        marked, at = 0, self.clock()
        for row in candidates:
            timeout = own_heartbeat_timeout(row.metadata) or self.timeout_s
            if row.last_seen_at is None or (at - row.last_seen_at).total_seconds() <= timeout:
                continue
            stream = telemetry_id(row.tenant_id, row.device_id)
            marked += self._decide(stream, timeout) == "marked"
        self.marked += marked
        return marked

    def _decide(self, stream: UUID, timeout: int) -> Decision:
        """Decide one stream on its freshly loaded `Telemetry`: "marked" (offline recorded),
        "gone" (not online, or no such stream), "race" (a batch or another decider committed
        first), or how many seconds it has been silent (within its timeout)."""
        telemetry = self.app.load_telemetry(stream)
        if telemetry is None or telemetry.online is not True:
            return "gone"
        at = self.clock()
        if not telemetry.check_heartbeat(at, timeout):
            last = telemetry.last_received_at
            return max(0.0 if last is None else (at - last).total_seconds(), 0.0)
        meta = EventMetadata(telemetry.tenant_id, ACTOR, new_uuid4().hex)
        try:
            self.app.save_telemetry([telemetry], meta)
        except IntegrityError:
            return "race"
        return "marked"

    def _read(
        self, after: int, stop: int | None, topics: tuple[str, ...]
    ) -> Iterator[Notification]:
        """The notifications after `after` (up to `stop`), page by page (of `topics`, if
        given: filtered by the store where everything up to its head is visible, SQLite, so
        the start-up read does not carry every telemetry batch into Python; here elsewhere)."""
        recorder = self.app.recorder
        in_store = topics if getattr(recorder, "visible_up_to_head", False) else ()
        while True:
            page = recorder.select_notifications(
                start=after, limit=self.page, stop=stop, topics=in_store, inclusive_of_start=False
            )
            yield from (n for n in page if not topics or n.topic in topics)
            if len(page) < self.page:
                return
            after = page[-1].id

    # The thread (`Loop`: `_turn` every `interval` seconds until stopped) ---------------------

    def _run(self) -> None:
        try:
            self.start_state()
        except Exception:
            log.exception("connectivity: could not read the feed; offline detection is off")
            return
        super()._run()

    def _turn(self) -> float:
        try:
            self.follow()
            self.check()
        except Exception:
            log.exception("connectivity check failed; trying again next time")
        return self.interval
