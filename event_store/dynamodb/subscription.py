"""Subscriptions to the feed: the library's pull loop, woken by polling and by local commits.

A background thread polls the feed head (one strongly consistent GetItem): every 20 ms while
the feed is moving, backing off to 200 ms when it is idle. Commits made by this process wake
the subscription at once, without waiting for the next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import ListenNotifySubscription, OperationalError

if TYPE_CHECKING:
    from event_store.dynamodb.recorders import DynamoDBApplicationRecorder

logger = logging.getLogger(__name__)

MIN_POLL_INTERVAL = 0.02
MAX_POLL_INTERVAL = 0.2
POLL_BACKOFF = 1.5


class DynamoDBSubscription(ListenNotifySubscription["DynamoDBApplicationRecorder"]):
    def __init__(
        self,
        recorder: DynamoDBApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        # Set before the base class starts its pull thread (which may call stop()).
        self._wakeup = threading.Event()
        self._feed = recorder.feed_state
        self._feed.listen(self._wakeup)
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._poll_thread = threading.Thread(
            target=self._poll, name="dynamodb-subscription-poll", daemon=True
        )
        self._poll_thread.start()

    def stop(self) -> None:
        super().stop()
        self._feed.unlisten(self._wakeup)
        self._wakeup.set()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()

    def _poll(self) -> None:
        interval = MIN_POLL_INTERVAL
        last_head: int | None = None
        try:
            while not self._has_been_stopped:
                woken = self._wakeup.wait(timeout=interval)
                if self._has_been_stopped:
                    break
                if woken:
                    self._wakeup.clear()
                    self._has_been_notified.set()
                    interval = MIN_POLL_INTERVAL
                    continue
                try:
                    head = self._recorder.max_notification_id()
                except OperationalError as e:  # transient: keep polling, more slowly
                    logger.warning("Polling the feed head failed: %s", e)
                    interval = MAX_POLL_INTERVAL
                    continue
                if head != last_head:
                    last_head = head
                    self._has_been_notified.set()
                    interval = MIN_POLL_INTERVAL
                else:
                    interval = min(interval * POLL_BACKOFF, MAX_POLL_INTERVAL)
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()
