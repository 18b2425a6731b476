"""The buffer's parts on their own, without a store: backpressure slots, the batch queue and
the pacer (`test_ingestion_buffer.py` covers them working together in `IngestService`)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from ingestion.backpressure import Overloaded, Slots
from ingestion.batching import BatchQueue, Item
from ingestion.pacing import Pacer
from write_side.ingestion import Pending

FAR = 3600.0  # seconds: a wake-up time that never comes during a test


def item(device: uuid.UUID) -> Item:
    pending = Pending(
        "acme", device, cast(Any, None), cast(Any, None), datetime.now(UTC), "http", 60
    )
    return Item(pending, lambda result: None, time.monotonic())


def test_slots_refuse_what_does_not_fit_and_take_none_of_it() -> None:
    slots = Slots(3)
    slots.take(2, block=False, timeout=None)
    with pytest.raises(Overloaded, match="2 messages pending"):
        slots.take(2, block=False, timeout=None)
    with pytest.raises(Overloaded):
        slots.take(4, block=True, timeout=None)  # more than the capacity: never fits
    with pytest.raises(Overloaded):
        slots.take(2, block=True, timeout=0.01)
    assert slots.held == 2
    slots.take(1, block=False, timeout=None)
    assert slots.held == 3


def test_a_waiting_producer_gets_the_slots_given_back() -> None:
    slots = Slots(1)
    slots.take(1, block=False, timeout=None)
    taken = threading.Event()

    def producer() -> None:
        slots.take(1, block=True, timeout=5)
        taken.set()

    thread = threading.Thread(target=producer)
    thread.start()
    assert not taken.wait(0.05)
    slots.give_back(1)
    thread.join(5)
    assert taken.is_set()
    assert slots.held == 1


def test_closing_refuses_waiting_and_later_producers() -> None:
    slots = Slots(1)
    slots.take(1, block=False, timeout=None)
    errors: list[BaseException] = []

    def producer() -> None:
        try:
            slots.take(1, block=True, timeout=None)
        except Overloaded as e:
            errors.append(e)

    thread = threading.Thread(target=producer)
    thread.start()
    slots.close()
    thread.join(5)
    assert len(errors) == 1
    slots.give_back(1)
    with pytest.raises(Overloaded):
        slots.take(1, block=True, timeout=None)
    slots.open()
    slots.take(1, block=False, timeout=None)


def test_a_batch_is_due_once_enough_devices_are_queued() -> None:
    queue = BatchQueue(flush_interval=FAR, flush_devices=2, max_batch=10)
    a, b = uuid.uuid4(), uuid.uuid4()
    queue.put([item(a), item(a)])
    assert queue.next_batch(time.monotonic() + 0.02) == []  # one device: not due yet
    queue.put([item(b)])
    batch = queue.next_batch(time.monotonic() + FAR)
    assert [i.pending.stream_id for i in batch or []] == [a, a, b]


def test_a_batch_is_due_after_the_flush_interval_and_holds_at_most_max_batch() -> None:
    queue = BatchQueue(flush_interval=0.01, flush_devices=100, max_batch=2)
    items = [item(uuid.uuid4()) for _ in range(3)]
    queue.put(items)
    assert queue.next_batch(time.monotonic() + FAR) == items[:2]  # oldest first
    assert queue.next_batch(time.monotonic() + FAR) == items[2:]


def test_stopping_makes_the_queue_due_at_once_then_ends_it() -> None:
    queue = BatchQueue(flush_interval=FAR, flush_devices=100, max_batch=10)
    queued = item(uuid.uuid4())
    queue.put([queued])
    queue.stop()
    assert queue.next_batch(time.monotonic() + FAR) == [queued]
    assert queue.next_batch(time.monotonic() + FAR) is None
    queue.put([queued])
    assert queue.drain() == [queued]
    assert queue.drain() == []


def test_the_pacer_waits_for_a_moving_consumer_until_stopped() -> None:
    pacer = Pacer(max_consumer_lag=0.0)
    calls = 0

    def applied() -> list[int]:
        nonlocal calls
        calls += 1
        return [calls]  # moving, but never reaching the commit at position 100

    pacer.pace_with(applied, poll=0.001)
    pacer.committed(100)
    pacer.wait(lambda: False)  # first sight: a consumer counts as moving once it has moved
    assert calls == 1
    pacer.wait(lambda: calls >= 5)
    assert calls == 5
    assert pacer.paced_s > 0


def test_the_pacer_does_not_wait_without_a_lag_bound() -> None:
    pacer = Pacer(max_consumer_lag=None)
    pacer.pace_with(lambda: [0])
    assert not pacer.active
    pacer.committed(100)
    pacer.wait(lambda: False)  # returns at once
    assert pacer.paced_s == 0.0
