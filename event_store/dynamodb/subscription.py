"""Subscriptions to the feed: the library's pull loop, woken by the process's head watch.

A subscription does not poll on its own: the feed state's one poller per process reads the
feed head for every subscription and idle worker, and wakes them all when it moves; commits
made by this process wake them at once (see :mod:`.poller`). A subscription reads the feed
when woken, and again, every 20 ms backing off to 200 ms, for as long as the known head is
above the position it has read up to: the head item and the feed item of a commit are read
separately, so a read can see the new head before the feed item that goes with it, and the
head will not move again on an idle feed. Once caught up it makes no request at all until the
head moves.

Its position is the last id it has read, whatever the topics: the feed is read whole and
filtered here (the feed items hold every topic anyway), so a subscription to quiet topics is
not "behind" forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from eventsourcing.persistence import ListenNotifySubscription, ShutDown

from event_store.dynamodb.poller import MAX_POLL_INTERVAL, MIN_POLL_INTERVAL, POLL_BACKOFF

if TYPE_CHECKING:
    from event_store.dynamodb.recorders import DynamoDBApplicationRecorder


class DynamoDBSubscription(ListenNotifySubscription["DynamoDBApplicationRecorder"]):
    def __init__(
        self,
        recorder: DynamoDBApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        # Set before the base class starts its pull thread (the thread's recorder may give
        # another thread's state).
        self._feed = recorder.feed_state
        super().__init__(recorder=recorder, gt=gt, topics=topics)

    @property
    def _position(self) -> int:
        return self._last_notification_id or 0

    def _loop_on_pull(self) -> None:
        # Runs in the library's pull thread; `stop()` sets `_has_been_notified`, so it ends
        # promptly. Listening starts before the first read, so no move of the head is missed.
        feed = self._feed
        feed.listen(self._has_been_notified, self._recorder.max_notification_id)
        try:
            retry = MIN_POLL_INTERVAL
            self._pull()  # Already recorded events.
            while not self._has_been_stopped:
                behind = feed.head.behind(self._position)
                notified = self._has_been_notified.wait(retry if behind else None)
                if self._has_been_stopped:
                    break
                if not (notified or behind):
                    continue
                before = self._position
                self._pull()  # Newly recorded events, or those not visible at the last read.
                if self._position > before:
                    retry = MIN_POLL_INTERVAL
                else:
                    retry = min(retry * POLL_BACKOFF, MAX_POLL_INTERVAL)
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()
        finally:
            feed.unlisten(self._has_been_notified)

    def _pull(self) -> None:
        """The library's, reading every topic and moving past those not subscribed to."""
        topics = frozenset(self._topics)
        while not self._has_been_stopped:
            self._has_been_notified.clear()
            notifications = self._recorder.select_notifications(
                start=self._position,
                limit=self._select_limit,
                inclusive_of_start=False,
            )
            if not notifications:
                break
            wanted = [n for n in notifications if n.topic in topics] if topics else notifications
            if wanted:
                try:
                    self._notifications_queue.put(wanted)
                except ShutDown:
                    break
            self._last_notification_id = notifications[-1].id
            if len(notifications) < self._select_limit:
                break
