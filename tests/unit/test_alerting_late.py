"""A redelivery older than the alerting policy's window of recent ids, marked late by its
stream, is never evaluated twice; a new late reading newer than the watches' watermarks still
is. The window itself (hashes in a ring) answers as a window of the last ids would."""

from __future__ import annotations

import uuid
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_alerting_policy import HOT, PUMP, at, batch, make_rule
from write_side.alerting_late import RecentIds
from write_side.alerting_policy import AlertingPolicy, RecordRepeat
from write_side.rule_compiled import EvaluationState

RISING = make_rule(
    {"kind": "rate_of_change", "metric": "temp", "rate": 5, "per": "second",
     "direction": "rising", "window_seconds": 60},
)  # fmt: skip


def past_the_window(policy: AlertingPolicy) -> None:
    """1,100 messages of another metric after m0: m0 has left the policy's window."""
    for start in range(1, 1101, 100):
        hums = ((f"h{i}", i, {"hum": 40.0}) for i in range(start, start + 100))
        policy.handle_readings([HOT, RISING], PUMP, batch(PUMP, *hums))


def test_a_late_redelivery_of_the_newest_reading_is_not_a_second_repeat() -> None:
    policy = AlertingPolicy()
    assert len(policy.handle_readings([HOT], PUMP, batch(PUMP, ("m0", 0, {"temp": 90.0})))) == 1
    past_the_window(policy)
    again = batch(PUMP, ("m0", 0, {"temp": 90.0}))
    assert policy.handle_readings([HOT], PUMP, again, frozenset({"m0"})) == []


def test_without_the_late_flag_it_would_count_again() -> None:
    """What the flag prevents (and what happened before it): the same reading, a repeat."""
    policy = AlertingPolicy()
    policy.handle_readings([HOT], PUMP, batch(PUMP, ("m0", 0, {"temp": 90.0})))
    past_the_window(policy)
    (repeat,) = policy.handle_readings([HOT], PUMP, batch(PUMP, ("m0", 0, {"temp": 90.0})))
    assert isinstance(repeat, RecordRepeat)


def test_a_late_new_reading_past_the_watermarks_is_evaluated() -> None:
    policy = AlertingPolicy()
    policy.handle_readings([HOT], PUMP, batch(PUMP, ("m0", 0, {"temp": 90.0})))
    past_the_window(policy)
    backfill = batch(PUMP, ("m0", 0, {"temp": 90.0}), ("b1", 500, {"temp": 95.0, "hum": 1.0}))
    (repeat,) = policy.handle_readings([HOT], PUMP, backfill, frozenset({"m0", "b1"}))
    assert repeat == RecordRepeat(repeat.alert_id, 95.0, at(500))


def test_a_late_redelivery_never_feeds_a_rate_twice() -> None:
    policy = AlertingPolicy()
    rising = batch(PUMP, ("r0", 0, {"temp": 10.0}), ("r1", 1, {"temp": 20.0}))
    assert len(policy.handle_readings([RISING], PUMP, rising)) == 1
    past_the_window(policy)
    state = policy.watches[RISING.rule_id, PUMP.device_id].state
    again = batch(PUMP, ("r1", 1, {"temp": 20.0}))
    assert policy.handle_readings([RISING], PUMP, again, frozenset({"r1"})) == []
    after = policy.watches[RISING.rule_id, PUMP.device_id].state
    assert isinstance(after, EvaluationState)
    assert state is not None
    assert after.recent == state.recent  # the window of readings holds r1 once


@settings(max_examples=200)
@given(
    size=st.integers(min_value=1, max_value=8),
    sent=st.lists(
        st.tuples(st.sampled_from("ab"), st.text(alphabet="mnop", max_size=2)), max_size=60
    ),
)
def test_the_recent_ids_ring_answers_as_a_window_of_the_last_ids(
    size: int, sent: list[tuple[str, str]]
) -> None:
    """`RecentIds` (hashes in a ring) says what a window of each device's last `size` ids says,
    device by device; a device forgotten starts afresh."""
    devices = {"a": uuid.uuid4(), "b": uuid.uuid4()}
    recent = RecentIds(size=size)
    windows: dict[str, deque[str]] = {name: deque(maxlen=size) for name in devices}
    for name, message in sent:
        expected = message not in windows[name]
        if expected:
            windows[name].append(message)
        assert recent.first_time(devices[name], message) is expected
    recent.forget(devices["a"])
    assert all(recent.first_time(devices["a"], m) for m in dict.fromkeys(windows["a"]))
